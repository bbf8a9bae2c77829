"""Real HTTP servers on loopback for crawler tests: a market backend and a hit-counting canary."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def market_backend(
    state_dir: Path,
    *,
    name: str = "nightshade",
    listings: int = 60,
    seed: int = 7,
    extra: tuple[str, ...] = (),
    supply_chain: bool = False,
) -> Iterator[int]:
    """The lab's market app as its own process, listening on 127.0.0.1:<port>.

    Without the supply-chain overlay unless asked: these tests pin the seeded catalogue's counts."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "onionwatch.lab.market",
            "--name",
            name,
            "--port",
            str(port),
            "--state-dir",
            str(state_dir),
            "--listings",
            str(listings),
            "--seed",
            str(seed),
            *extra,
            *(() if supply_chain else ("--no-supply-chain",)),
        ],
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("market backend did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Canary:
    """Counts every request that reaches it: a crawl that must not go direct must leave it at 0."""

    def __init__(self) -> None:
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with canary.lock:
                    canary.hits += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"hi")

            def log_message(self, *args: object) -> None:
                pass

        self.hits = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/"

    def __enter__(self) -> Canary:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


class ChainCanary(Canary):
    """A canary that a market spider keeps crawling: a home page and one long paged category
    (Nightshade layout), each page slow, so its hits show whether traffic flows at a given moment."""

    def __init__(self, pages: int = 30, delay: float = 0.2) -> None:
        super().__init__()
        canary = self
        self.times: list[float] = []

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with canary.lock:
                    canary.hits += 1
                    canary.times.append(time.monotonic())
                time.sleep(delay)
                if self.path == "/":
                    body = '<ul class="sidebar"><a href="/c/all?page=1">all</a></ul>'
                else:
                    page = int(self.path.rsplit("=", 1)[1])
                    nxt = f'<a class="next" href="/c/all?page={page + 1}">next</a>' if page < pages else ""
                    body = f'<div class="results"></div>{nxt}'
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server.server_close()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
