"""Hostile responses: oversized pages, decompression bombs, binaries. Each is refused, clearly
counted, and nothing else in the crawl is lost (a normal page fetched in the same run still arrives)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from onionwatch.crawler.middlewares import denylist_hashes
from onionwatch.errors import ConfigError
from tests.conftest import REPO
from tests.support.socks5 import Socks5Server

HOST = "hostile7k3zxwqzptnxdbfjikzgcq3ha5yveuxr7kwkpfl3ordsmt5xqmydxyzw.onion"
MAXSIZE = 1024 * 1024
BOMB = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)  # ~64 KiB on the wire, 64 MiB inflated
PAGES: dict[str, tuple[str, bytes, dict[str, str]]] = {
    "/ok": ("text/html; charset=utf-8", b"<html><body>fine</body></html>", {}),
    "/huge": ("text/html", b"<p>" + b"x" * (4 * MAXSIZE), {}),
    "/huge-chunked": ("text/html", b"<p>" + b"y" * (4 * MAXSIZE), {"chunked": "1"}),
    "/bomb": ("text/html", BOMB, {"Content-Encoding": "gzip"}),
    "/photo": ("image/jpeg", b"\xff\xd8\xff\xe0" + b"\0" * 1000, {}),
    "/archive.zip": ("text/html", b"<html>pretends to be text</html>", {}),
    "/denied?b=2&a=1": ("text/html", b"<html>never to be fetched</html>", {}),
}
DENIED_HOST = "deniedhost".ljust(56, "q") + ".onion"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        _Handler.hits[self.path] = _Handler.hits.get(self.path, 0) + 1
        content_type, body, extra = PAGES[self.path]
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        for key, value in extra.items():
            if key != "chunked":
                self.send_header(key, value)
        if "chunked" in extra:
            # No Content-Length: the cap must hold while streaming, not only on the header.
            self.send_header("Connection", "close")
            self.end_headers()
            for start in range(0, len(body), 65536):
                self.wfile.write(body[start : start + 65536])
            return
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        backend = ("127.0.0.1", server.server_address[1])
        # Entries are hashes of the canonical URL (query order does not matter) or of a host.
        denylist = tmp_path_factory.mktemp("deny") / "denylist.txt"
        by_url, _ = denylist_hashes(f"http://{HOST}/denied?a=1&b=2")
        _, by_host = denylist_hashes(f"http://{DENIED_HOST}/")
        denylist.write_text(f"# test entries\n{by_url}\n\n{by_host}  # a whole host\n")
        with Socks5Server({HOST: backend, DENIED_HOST: backend}) as socks:
            urls = [f"http://{HOST}{path}" for path in PAGES] + [f"http://{DENIED_HOST}/ok"]
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "tests.support.fetch_script",
                    "--socks",
                    socks.address,
                    "--maxsize",
                    str(MAXSIZE),
                    "--denylist",
                    str(denylist),
                    *urls,
                ],
                capture_output=True,
                text=True,
                timeout=120,
                cwd=REPO,
                check=True,
            )
        yield json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _result(fetched: dict[str, Any], path: str) -> dict[str, Any]:
    result: dict[str, Any] = fetched["results"][f"http://{HOST}{path}"]
    return result


def test_normal_page_in_the_same_crawl_still_arrives(fetched: dict[str, Any]) -> None:
    assert _result(fetched, "/ok") == {"ok": True, "bytes": len(PAGES["/ok"][1])}


@pytest.mark.parametrize("path", ["/huge", "/huge-chunked"])
def test_oversized_page_is_cancelled(fetched: dict[str, Any], path: str) -> None:
    result = _result(fetched, path)
    assert result["ok"] is False
    assert "maxsize" in result["message"] or "larger than" in result["message"]


def test_decompression_bomb_is_refused_before_it_inflates(fetched: dict[str, Any]) -> None:
    result = _result(fetched, "/bomb")
    assert result["ok"] is False
    assert result["error"] == "IgnoreRequest"
    assert "decompressed" in result["message"] or "exceeded" in result["message"]


def test_binary_response_is_cut_at_its_headers(fetched: dict[str, Any]) -> None:
    result = _result(fetched, "/photo")
    assert result["ok"] is False
    assert fetched["stats"]["fetch/refused/binary_type"] == 1


def test_binary_url_is_never_requested(fetched: dict[str, Any]) -> None:
    result = _result(fetched, "/archive.zip")
    assert result == {"ok": False, "error": "IgnoreRequest", "message": result["message"]}
    assert "text-only policy" in result["message"]
    assert _Handler.hits.get("/archive.zip", 0) == 0
    assert fetched["stats"]["fetch/refused/binary_url"] == 1


def test_denylisted_url_and_host_are_never_requested(fetched: dict[str, Any]) -> None:
    for url in (f"http://{HOST}/denied?b=2&a=1", f"http://{DENIED_HOST}/ok"):
        result = fetched["results"][url]
        assert result["ok"] is False and result["error"] == "IgnoreRequest"
        assert "denylisted" in result["message"] and "denied" not in result["message"].split("(")[0]
    assert _Handler.hits.get("/denied?b=2&a=1", 0) == 0 and _Handler.hits.get("/ok", 0) == 1
    assert fetched["stats"]["fetch/refused/denylist"] == 2


def test_a_malformed_denylist_is_a_clear_error(tmp_path: Path) -> None:
    from onionwatch.crawler.middlewares import load_denylist

    path = tmp_path / "deny.txt"
    path.write_text("0" * 64 + "\nnot-a-hash\n")
    with pytest.raises(ConfigError, match=r"deny.txt:2: not a sha256"):
        load_denylist(path)
