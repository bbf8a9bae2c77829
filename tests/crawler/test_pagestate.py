"""Page state before parsing: the lab's walls and pages, and (marked ``corpus``) real market walls."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response
from scrapy.statscollectors import StatsCollector
from scrapy.utils.test import get_crawler

from onionwatch.crawler.access import AccessControlMiddleware
from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pagestate import PageState, classify
from onionwatch.crawler.sessions import Account, SessionStore, login_form
from onionwatch.errors import PageError
from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.engines import ENGINES
from onionwatch.lab.market.gate import Gate, GateConfig
from tests.conftest import REPO, SHARED
from tests.support.socks5 import Socks5Server

CORPUS = SHARED / "corpus" / "pages"
HOST = "http://labmarket.onion"


def _page(body: bytes | str, path: str = "/") -> Page:
    data = body.encode() if isinstance(body, str) else body
    return Page(url=HOST + path, body=data, market="lab", content_type="text/html; charset=utf-8")


def _gate_page(tmp_path: Path, spec: str, path: str, cookies: dict[str, str] | None = None) -> Page:
    gate = Gate(GateConfig.parse(spec, queue_wait_s=7), tmp_path)
    reply = gate.handle("GET", path, "", cookies or {}, {})
    assert reply is not None
    return _page(reply.body, path)


def test_lab_queue_page_is_ddos_with_its_wait(tmp_path: Path) -> None:
    verdict = classify(_gate_page(tmp_path, "ddos", "/item/1"), engine="nightshade")
    assert verdict.state is PageState.DDOS
    assert verdict.wait_s == 7


def test_lab_login_pages_with_and_without_captcha(tmp_path: Path) -> None:
    plain = classify(_gate_page(tmp_path / "a", "login", "/login"), engine="nightshade")
    assert plain.state is PageState.LOGIN and plain.captcha_image is None
    page = _gate_page(tmp_path / "b", "captcha", "/login")
    with_captcha = classify(page, engine="nightshade")
    assert with_captcha.state is PageState.LOGIN
    assert with_captcha.captcha_image == f"{HOST}/captcha.png"
    form = login_form(page)
    assert (form.username_field, form.password_field, form.captcha_field) == (
        "username",
        "password",
        "captcha",
    )
    assert form.action == f"{HOST}/login" and form.method == "POST"
    account = Account(username="u", password="p")  # type: ignore[arg-type]
    with pytest.raises(PageError, match="captcha answer"):
        form.fill(account)
    assert form.fill(account, "12345")["captcha"] == "12345"


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_no_page_of_any_lab_engine_is_taken_for_a_wall(engine: str) -> None:
    """Walk each engine's whole site from its home page: every page it serves is ok (a wall verdict
    on a content page would drop its listings), whether or not the engine has markers here."""
    catalogue = generate("lab", listings=30, currencies=ENGINES[engine].currencies)
    market = ENGINES[engine](catalogue)
    seen: set[str] = set()
    todo = ["/"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        parts = urlsplit(path)
        rendered = market.render(parts.path, parse_qs(parts.query))
        if rendered.status != 200:
            continue
        page = _page(rendered.body, path)
        assert classify(page, engine=engine).ok, path
        assert classify(page).ok, path  # the general detector alone agrees
        for href in page.selector.css("a::attr(href)").getall():
            link = urlsplit(urljoin(page.url, href))
            if f"{link.scheme}://{link.netloc}" == HOST:
                todo.append(link.path + (f"?{link.query}" if link.query else ""))
    assert len(seen) > 40


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_every_lab_engine_page_is_ok_and_missing_pages_are_not_found(engine: str) -> None:
    catalogue = generate("lab", listings=10, currencies=ENGINES[engine].currencies)
    rendered = ENGINES[engine](catalogue)
    home = rendered.render("/", {})
    assert classify(_page(home.body), status=int(home.status), engine=engine).ok
    assert classify(_page(home.body), status=int(home.status)).ok  # the general path agrees
    missing = rendered.render("/no/such/page", {})
    assert (
        classify(_page(missing.body), status=int(missing.status), engine=engine).state is PageState.NOT_FOUND
    )


def test_nightshade_listing_is_ok_by_its_marker() -> None:
    catalogue = generate("lab", listings=5)
    item = catalogue.listings[0]
    page = ENGINES["nightshade"](catalogue).render(f"/item/{item.listing_id}", {})
    assert classify(_page(page.body, f"/item/{item.listing_id}"), engine="nightshade").ok


def test_maintenance_and_meta_refresh_wait() -> None:
    body = (
        '<html><head><meta content="45" http-equiv="refresh"><title>Maintenance</title></head>'
        "<body><h1>We are down for maintenance</h1><p>We'll be back soon.</p></body></html>"
    )
    verdict = classify(_page(body))
    assert verdict.state is PageState.MAINTENANCE and verdict.wait_s == 45


# -- the real walls of the corpus -------------------------------------------------------------------

#: corpus label -> the state the crawler must reach; every other label is a content page (ok)
WALLS = {
    "ddos": PageState.DDOS,
    "login": PageState.LOGIN,
    "anti_phishing": PageState.ANTI_PHISHING,
    "not_found": PageState.NOT_FOUND,
    "ban": PageState.BANNED,
}


def _corpus_pages() -> list[tuple[str, str]]:
    pages: list[tuple[str, str]] = []
    for folder in ("dream", "empire"):
        for entry in json.loads((CORPUS / folder / "expected.json").read_text()):
            pages.append((f"{folder}/{entry['file']}", entry["kind"]))
    for folder in ("scout", "anita"):
        for name, entry in json.loads((CORPUS / folder / "labels.json").read_text()).items():
            kind = entry["kind"]
            # scout's "other" under captcha/ are Kerberos ban / strike notices (corpus README)
            pages.append(
                (f"{folder}/{name}", "ban" if kind == "other" and name.startswith("captcha/") else kind)
            )
    return pages


@pytest.mark.corpus
def test_page_state_on_real_market_pages() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    wrong: list[str] = []
    for relative, kind in _corpus_pages():
        page = Page(
            url=f"http://market.onion/{relative}", body=(CORPUS / relative).read_bytes(), market="corpus"
        )
        expected = WALLS.get(kind, PageState.OK)
        got = classify(page).state
        totals[kind][0] += got is expected
        totals[kind][1] += 1
        if got is not expected:
            wrong.append(f"{relative}: {kind} -> {got}")
    report = "\n".join(f"{kind:15s} {ok}/{n}" for kind, (ok, n) in sorted(totals.items()))
    print(f"\npage state per corpus kind:\n{report}")
    assert sum(n for _, n in totals.values()) >= 88
    # Walls must never reach a parser, and content pages must never be mistaken for walls.
    assert wrong == [], "\n".join(wrong)


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("relative", "user", "password", "captcha"),
    [
        # Dream: random names, pre-filled decoy text and password inputs; the empty ones are real
        (
            "dream/login_0.html",
            "64325cd45ba3a74bb2ed34404f7de37b",
            "2d3ce364905045c70077fe6cca91c6d8",
            "703a24ad703f71038fef15afe9122240",
        ),
        # Empire: random names, the captcha field known by its placeholder only
        (
            "empire/login_0.html",
            "b6186a41edc48ea9cd1d262b7ad7ea3f5fc01ba2",
            "be7e354d6267a993fd88ad2f19c77ba4dda54fc3",
            "2c2e92982e5fa8ce494d93347ffa266d2e604dfb",
        ),
        ("empire/login_1.html", "username", "password", "captcha"),
        ("scout/captcha/wethenorth_login_1.html", "login", "pass", "cap"),
    ],
)
def test_login_forms_of_real_markets(relative: str, user: str, password: str, captcha: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    page = Page(url=f"http://market.onion/{relative}", body=(CORPUS / relative).read_bytes(), market="corpus")
    form = login_form(page)
    assert (form.username_field, form.password_field, form.captcha_field) == (user, password, captcha)
    filled = form.fill(Account(username="me", password="secret"), "abc")  # type: ignore[arg-type]
    # the password goes into one field only, never into a decoy
    assert [k for k, v in filled.items() if v == "secret"] == [password]
    assert classify(page).captcha_image is not None


# -- the middleware's edges (no network) ------------------------------------------------------------


def _middleware(**settings: object) -> tuple[AccessControlMiddleware, Crawler]:
    crawler = get_crawler(settings_dict=settings)
    crawler.stats = StatsCollector(crawler)
    return AccessControlMiddleware.from_crawler(crawler), crawler


def test_middleware_switches_off_the_scrapy_way() -> None:
    with pytest.raises(NotConfigured):
        _middleware(ONIONWATCH_ACCESS_ENABLED=False)


def test_middleware_keeps_passwords_secret() -> None:
    mw, _ = _middleware(ONIONWATCH_LOGINS={"m": {"username": "buyer", "password": "hunter2-secret"}})
    assert mw.accounts["m"].password.get_secret_value() == "hunter2-secret"
    assert "hunter2-secret" not in repr(mw.accounts) and "hunter2-secret" not in str(mw.accounts)


def test_middleware_passes_content_counts_states_and_drops_not_found() -> None:
    mw, crawler = _middleware()
    catalogue = generate("lab", listings=3)
    item = catalogue.listings[0]
    body = ENGINES["nightshade"](catalogue).render(f"/item/{item.listing_id}", {}).body.encode()
    request = Request(f"{HOST}/item/{item.listing_id}", meta={"market": "lab", "engine": "nightshade"})
    ok = HtmlResponse(request.url, body=body, request=request, headers={"Content-Type": "text/html"})
    assert asyncio.run(mw.process_response(request, ok)) is ok
    gone = HtmlResponse(request.url, status=404, body=b"<h1>404</h1>", request=request)
    with pytest.raises(IgnoreRequest):
        asyncio.run(mw.process_response(request, gone))
    image = Response(f"{HOST}/captcha.png", body=b"\x89PNG", headers={"Content-Type": "image/png"})
    assert asyncio.run(mw.process_response(request, image)) is image  # binaries are not pages
    assert crawler.stats is not None
    assert crawler.stats.get_value("page/state/ok") == 1
    assert crawler.stats.get_value("page/state/not_found") == 1


# -- real walls in a crawl: the market stops for the operator, nothing is parsed -------------------

WALL_HOST = "wallsmk2k3zxwqzptnxdbfjikzgcq3ha5yveuxr7kwkpfl3ordsmt5xqmydxyz.onion"
MAINTENANCE = (
    b'<html><head><meta http-equiv="refresh" content="1"><title>Maintenance</title></head>'
    b"<body><h1>Down for maintenance</h1><p>We'll be back soon.</p></body></html>"
)


class _WallServer:
    """Serves ``first`` for the first ``times`` requests, then ``then``; counts requests."""

    def __init__(self, first: bytes, then: bytes, times: int) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                server.hits += 1
                body = first if server.hits <= times else then
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.hits = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _WallServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def _crawl_walls(first: bytes, then: bytes, times: int, data: Path) -> tuple[dict[str, Any], str, int]:
    with (
        _WallServer(first, then, times) as server,
        Socks5Server({WALL_HOST: ("127.0.0.1", server.httpd.server_address[1])}) as socks,
    ):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.support.gated_crawl",
                "--market",
                "walls",
                "--url",
                f"http://{WALL_HOST}/",
                "--socks",
                socks.address,
                "--store",
                str(data / "store.sqlite"),
                "--sessions",
                str(data / "sessions"),
                "--data-dir",
                str(data),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
            check=True,
        )
        hits = server.hits
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr, hits


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("relative", "state"),
    [
        ("scout/captcha/wethenorth_anti_phishing_1.html", "anti_phishing"),
        ("scout/captcha/kerberos_ban_1.html", "banned"),
    ],
)
def test_a_real_wall_stops_the_market_for_the_operator(relative: str, state: str, tmp_path: Path) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    wall = (CORPUS / relative).read_bytes()
    result, log, hits = _crawl_walls(wall, wall, 1000, tmp_path)
    assert result["finish_reason"] == "operator_needed"
    assert result["stats"][f"page/state/{state}"] == "1" and hits == 1  # asked once, then stopped
    assert result["stats"][f"session/operator_needed/{state}"] == "1"
    assert result["stored"] == 0 and "item_scraped_count" not in result["stats"]
    assert f"walls needs an operator: {state} page" in log
    assert SessionStore(tmp_path / "sessions").load("walls").operator_needed == state


def test_maintenance_is_waited_out_then_the_page_is_parsed(tmp_path: Path) -> None:
    home = ENGINES["nightshade"](generate("walls", listings=1)).render("/", {}).body.encode()
    result, log, hits = _crawl_walls(MAINTENANCE, home, 2, tmp_path)
    assert result["finish_reason"] == "finished", log[-2000:]
    assert result["stats"]["page/state/maintenance"] == "2"
    assert "maintenance page, waiting 1 s" in log
    assert hits >= 3  # the home page was reached after the two maintenance pages
