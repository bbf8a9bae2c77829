"""The lab's access-control gate: DDoS queue, login wall with captcha, session expiry, over real HTTP."""

from __future__ import annotations

import http.cookiejar
import json
import stat
import struct
import threading
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

import pytest

from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.gate import (
    ACCOUNT_FILE,
    CAPTCHA_ANSWER_FILE,
    Gate,
    GateConfig,
    captcha_png,
    parse_cookies,
)
from onionwatch.lab.market.server import MarketServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _gate(tmp_path: Path, spec: str, **kwargs: float | int | None) -> tuple[Gate, Clock]:
    clock = Clock()
    return Gate(GateConfig.parse(spec, **kwargs), tmp_path, market="testmarket", clock=clock), clock  # type: ignore[arg-type]


def _set_cookies(reply_headers: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return {k: v for h, value in reply_headers if h == "Set-Cookie" for k, v in parse_cookies(value).items()}


def test_parse_rejects_unknown_parts_and_captcha_implies_login() -> None:
    with pytest.raises(ValueError, match="unknown gate part"):
        GateConfig.parse("ddos,firewall")
    config = GateConfig.parse("captcha")
    assert config.login and config.captcha and not config.ddos
    assert not GateConfig.parse("").enabled


def test_ddos_queue_makes_the_visitor_wait_then_lets_the_cookie_through(tmp_path: Path) -> None:
    gate, clock = _gate(tmp_path, "ddos", queue_wait_s=5)
    first = gate.handle("GET", "/item/1", "", {}, {})
    assert first is not None and first.status == HTTPStatus.OK
    assert b'http-equiv="refresh" content="5"' in first.body and b"wait 5 seconds" in first.body
    cookies = _set_cookies(first.headers)
    assert set(cookies) == {"queue"}
    clock.now += 2
    again = gate.handle("GET", "/item/1", "", cookies, {})
    assert again is not None and b'content="3"' in again.body  # the remaining wait, same ticket
    assert not _set_cookies(again.headers)
    clock.now += 3
    assert gate.handle("GET", "/item/1", "", cookies, {}) is None
    # a forged or foreign ticket queues again
    assert gate.handle("GET", "/item/1", "", {"queue": "forged"}, {}) is not None


def test_login_wall_redirects_with_next_and_captcha_login_sets_session_and_trust(tmp_path: Path) -> None:
    gate, _ = _gate(tmp_path, "captcha")
    account = json.loads((tmp_path / ACCOUNT_FILE).read_text())
    assert stat.S_IMODE((tmp_path / ACCOUNT_FILE).stat().st_mode) == 0o600
    wall = gate.handle("GET", "/item/7", "x=1", {}, {})
    assert wall is not None and wall.status == HTTPStatus.FOUND
    assert dict(wall.headers)["Location"] == "/login?" + urllib.parse.urlencode({"next": "/item/7?x=1"})

    page = gate.handle("GET", "/login", "next=/item/7", {}, {})
    assert page is not None and b'name="captcha"' in page.body and b'src="/captcha.png"' in page.body
    cookies = _set_cookies(page.headers)
    answer = (tmp_path / CAPTCHA_ANSWER_FILE).read_text().strip()
    assert len(answer) == 5 and answer.isdigit()
    image = gate.handle("GET", "/captcha.png", "", cookies, {})
    assert image is not None and image.content_type == "image/png" and image.body.startswith(b"\x89PNG")

    form = {"username": account["username"], "password": account["password"], "next": "/item/7"}
    wrong = gate.handle(
        "POST", "/login", "", cookies, {**form, "captcha": "99999" if answer != "99999" else "1"}
    )
    assert wrong is not None and wrong.status == HTTPStatus.OK and b"Wrong captcha" in wrong.body
    answer = (tmp_path / CAPTCHA_ANSWER_FILE).read_text().strip()  # one guess per image: a new one
    ok = gate.handle("POST", "/login", "", cookies, {**form, "captcha": answer})
    assert ok is not None and ok.status == HTTPStatus.FOUND and dict(ok.headers)["Location"] == "/item/7"
    session = {**cookies, **_set_cookies(ok.headers)}
    assert {"sid", "trust"} <= set(session)
    assert gate.handle("GET", "/item/7", "", session, {}) is None

    # a trusted device logs in again with the password only
    relogin = gate.handle("GET", "/login", "", {"trust": session["trust"]}, {})
    assert relogin is not None and b'name="captcha"' not in relogin.body


def test_wrong_password_is_refused(tmp_path: Path) -> None:
    gate, _ = _gate(tmp_path, "login")
    reply = gate.handle("POST", "/login", "", {}, {"username": "labbuyer", "password": "guess"})
    assert reply is not None and reply.status == HTTPStatus.OK and b"Wrong username or password" in reply.body


@pytest.mark.parametrize(
    ("kwargs", "advance", "requests"), [({"session_ttl_s": 10}, 11, 1), ({"session_requests": 3}, 0, 3)]
)
def test_session_expires_by_time_or_requests(
    tmp_path: Path, kwargs: dict[str, float], advance: float, requests: int
) -> None:
    gate, clock = _gate(tmp_path, "login", **kwargs)
    account = json.loads((tmp_path / ACCOUNT_FILE).read_text())
    ok = gate.handle(
        "POST", "/login", "", {}, {"username": account["username"], "password": account["password"]}
    )
    assert ok is not None
    cookies = _set_cookies(ok.headers)
    for _ in range(requests):
        assert gate.handle("GET", "/", "", cookies, {}) is None
    clock.now += advance
    expired = gate.handle("GET", "/c/x", "", cookies, {})
    assert expired is not None and expired.status == HTTPStatus.FOUND
    assert dict(expired.headers)["Location"].startswith("/login?next=")


def test_next_is_never_an_open_redirect(tmp_path: Path) -> None:
    gate, _ = _gate(tmp_path, "login")
    account = json.loads((tmp_path / ACCOUNT_FILE).read_text())
    form = {"username": account["username"], "password": account["password"], "next": "//evil.example/x"}
    reply = gate.handle("POST", "/login", "", {}, form)
    assert reply is not None and dict(reply.headers)["Location"] == "/"


def test_captcha_png_is_a_valid_png() -> None:
    data = captcha_png("40719")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length])
        assert crc == zlib.crc32(kind + body)
        chunks[kind] = body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, colour) == (8, 0)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == height * (width + 1)
    dark = sum(1 for b in raw if b == 20)
    assert dark > 100  # the digits are drawn
    assert captcha_png("40719") == data  # deterministic per answer
    assert captcha_png("11111") != data


# -- through the real server ----------------------------------------------------------------------


@dataclass
class Running:
    url: str
    state: Path
    item: str


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    catalogue = generate("nightshade", listings=12)
    srv = MarketServer(0, catalogue, tmp_path, gate=GateConfig.parse("ddos,captcha", queue_wait_s=0.2))
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        item = f"/item/{catalogue.listings[0].listing_id}"
        yield Running(f"http://127.0.0.1:{srv.server_address[1]}", tmp_path, item)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(timeout=10)


def test_a_browser_with_cookies_gets_through_queue_and_login(server: Running) -> None:
    import time

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(path: str, data: dict[str, str] | None = None) -> tuple[str, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        with opener.open(server.url + path, data=body, timeout=10) as response:
            return response.geturl(), response.read().decode()

    _, queued = get(server.item)
    assert "You are in the queue" in queued
    time.sleep(0.3)
    where, login = get(server.item)
    assert urllib.parse.urlsplit(where).path == "/login" and 'name="captcha"' in login
    with opener.open(server.url + "/captcha.png", timeout=10) as image:
        assert image.headers["Content-Type"] == "image/png" and image.read().startswith(b"\x89PNG")
    account = json.loads((server.state / ACCOUNT_FILE).read_text())
    answer = (server.state / CAPTCHA_ANSWER_FILE).read_text().strip()
    where, page = get(
        "/login",
        {
            "username": account["username"],
            "password": account["password"],
            "captcha": answer,
            "next": server.item,
        },
    )
    assert where.endswith(server.item) and 'class="product"' in page
