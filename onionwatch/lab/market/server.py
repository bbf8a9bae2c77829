"""HTTP backend of one simulated market (the lab's onion service forwards port 80 here).

Stdlib only: the market is a test world, not a product. It renders the seeded catalogue as HTML in
its own engine's layout (see ``engines``), and writes the ground truth to its state directory on
start so tests and the demo can compare what the crawler stored with what the market offered.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from onionwatch.lab.market import MARKET_ENGINES
from onionwatch.lab.market.catalogue import Catalogue, evolve, generate
from onionwatch.lab.market.engines import ENGINES, Engine
from onionwatch.lab.market.gate import Gate, GateConfig, parse_cookies
from onionwatch.lab.market.supply import with_supply_chain

logger = logging.getLogger(__name__)

GROUND_TRUTH_FILE = "ground_truth.json"


EPOCH_FILE = "epoch"
MAX_FORM_BYTES = 64 * 1024


class MarketServer(ThreadingHTTPServer):
    """Serves the catalogue; writing a number to ``<state dir>/epoch`` moves the market on (listings
    removed, prices cut, new listings), the way a real market changes between two crawls."""

    daemon_threads = True

    def __init__(
        self,
        port: int,
        catalogue: Catalogue,
        state_dir: Path,
        *,
        latency_s: float = 0.0,
        engine: str = "nightshade",
        gate: GateConfig | None = None,
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.base = catalogue
        self.state_dir = state_dir
        self.latency_s = latency_s
        #: access control in front of the engine (DDoS queue, login wall, session expiry), if any
        self.gate = Gate(gate, state_dir, market=catalogue.market) if gate and gate.enabled else None
        self.epoch = 0
        self.engine_type = ENGINES[engine]
        self.engine: Engine = self.engine_type(catalogue)
        self._lock = threading.Lock()
        write_ground_truth(catalogue, state_dir)

    def current_engine(self) -> Engine:
        try:
            epoch = int((self.state_dir / EPOCH_FILE).read_text().strip() or 0)
        except (FileNotFoundError, ValueError):
            epoch = 0
        with self._lock:
            if epoch != self.epoch:
                catalogue = evolve(self.base, epoch)
                self.engine = self.engine_type(catalogue)
                self.epoch = epoch
                write_ground_truth(catalogue, self.state_dir)
            return self.engine


class _Handler(BaseHTTPRequestHandler):
    server: MarketServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._serve("GET", {})

    def do_POST(self) -> None:
        # Only the gate's login form takes a POST; the body is a small urlencoded form.
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_FORM_BYTES:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"too large", "text/plain; charset=utf-8")
            return
        body = self.rfile.read(length).decode("utf-8", "replace")
        self._serve("POST", {k: v[0] for k, v in parse_qs(body).items()})

    def _serve(self, method: str, form: dict[str, str]) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/healthz":
            self._send(HTTPStatus.OK, b"ok", "text/plain; charset=utf-8")
            return
        if self.server.latency_s:
            time.sleep(self.server.latency_s)
        if self.server.gate is not None:
            reply = self.server.gate.handle(
                method, parts.path, parts.query, parse_cookies(self.headers.get("Cookie")), form
            )
            if reply is not None:
                self._send(reply.status, reply.body, reply.content_type, reply.headers)
                return
        if method != "GET":
            self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"", "text/plain; charset=utf-8")
            return
        page = self.server.current_engine().render(parts.path, parse_qs(parts.query))
        self._send(page.status, page.body.encode("utf-8"), "text/html; charset=utf-8")

    def _send(
        self, status: HTTPStatus, body: bytes, content_type: str, headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


def write_ground_truth(catalogue: Catalogue, state_dir: Path) -> Path:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / GROUND_TRUTH_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(catalogue.as_json(), indent=1), encoding="utf-8")
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m onionwatch.lab.market")
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--listings", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every page")
    parser.add_argument(
        "--engine", choices=sorted(ENGINES), help="page layout and URL scheme (default: the market's own)"
    )
    parser.add_argument(
        "--gate", default="", help="access control in front of the market: any of ddos,login,captcha,ban"
    )
    parser.add_argument("--ban-at", type=int, default=5, help="with ban: the page request that is banned")
    parser.add_argument("--queue-wait", type=float, default=3.0, help="seconds a DDoS-queue visitor waits")
    parser.add_argument("--session-ttl", type=float, default=None, help="seconds a login session lasts")
    parser.add_argument("--session-requests", type=int, default=None, help="pages a login session lasts")
    parser.add_argument(
        "--no-supply-chain",
        action="store_true",
        help="only the seeded drug listings (no precursor, weapons or cross-market vendors)",
    )
    args = parser.parse_args(argv)

    try:
        gate = GateConfig.parse(
            args.gate,
            queue_wait_s=args.queue_wait,
            session_ttl_s=args.session_ttl,
            session_requests=args.session_requests,
            ban_at=args.ban_at,
        )
    except ValueError as exc:
        parser.error(str(exc))
    engine = args.engine or MARKET_ENGINES.get(args.name, "nightshade")
    catalogue = generate(
        args.name, seed=args.seed, listings=args.listings, currencies=ENGINES[engine].currencies
    )
    if not args.no_supply_chain:
        catalogue = with_supply_chain(catalogue)
    server = MarketServer(
        args.port, catalogue, args.state_dir, latency_s=args.latency_ms / 1000, engine=engine, gate=gate
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
