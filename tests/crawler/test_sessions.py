"""Sessions over loopback through the stand-in SOCKS server: a market behind a DDoS queue and a login
wall (with and without captcha), session expiry mid-crawl, the operator's captcha answer, the
saved jar. The same flows through the lab's real Tor network are in tests/e2e/test_access_control.py.
"""

from __future__ import annotations

import gzip
import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onionwatch.commands.session import app as session_app
from onionwatch.crawler.sessions import (
    SessionRecord,
    SessionStore,
    StoredCookie,
    cookie_from_text,
    dump_cookies,
    load_cookies,
)
from onionwatch.errors import ConfigError, SessionError
from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.market.gate import ACCOUNT_FILE, CAPTCHA_ANSWER_FILE
from onionwatch.lab.truth import load_truth
from tests.conftest import REPO
from tests.support.servers import market_backend
from tests.support.socks5 import Socks5Server

ONION = "gatedmk2k3zxwqzptnxdbfjikzgcq3ha5yveuxr7kwkpfl3ordsmt5xqmydxyz.onion"
LISTINGS = 24


@dataclass
class Market:
    state: Path
    socks: Socks5Server
    data: Path

    @property
    def sessions(self) -> Path:
        return self.data / "sessions"


@pytest.fixture
def gated(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Market]:
    state = tmp_path / "market"
    extra = tuple(request.param)
    with (
        market_backend(state, listings=LISTINGS, seed=5, extra=extra) as port,
        Socks5Server({ONION: ("127.0.0.1", port)}) as socks,
    ):
        yield Market(state, socks, tmp_path / "var")


def crawl(market: Market, *, account: bool = True, archive: Path | None = None) -> tuple[dict[str, Any], str]:
    args = [
        sys.executable,
        "-m",
        "tests.support.gated_crawl",
        "--market",
        "nightshade",
        "--url",
        f"http://{ONION}/",
        "--socks",
        market.socks.address,
        "--store",
        str(market.data / "store.sqlite"),
        "--sessions",
        str(market.sessions),
        "--data-dir",
        str(market.data),
    ]
    if account:
        args += ["--account-file", str(market.state / ACCOUNT_FILE)]
    if archive is not None:
        args += ["--archive", str(archive)]
    out = subprocess.run(args, capture_output=True, text=True, timeout=180, cwd=REPO, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result, out.stderr


def stat_of(result: dict[str, Any], key: str) -> int:
    return int(result["stats"].get(key, 0))


def stored_ids(market: Market) -> set[str]:
    with SqliteStore(market.data / "store.sqlite") as store:
        return {
            item["listing_id"]
            for item in load_truth(market.state)["listings"]
            if store.get("nightshade", item["listing_id"])
        }


def truth_ids(market: Market) -> set[str]:
    return {item["listing_id"] for item in load_truth(market.state)["listings"]}


@pytest.mark.parametrize(
    "gated", [("--gate", "ddos,login", "--queue-wait", "1", "--session-requests", "12")], indirect=True
)
def test_queue_and_expiring_login_lose_no_listing(gated: Market) -> None:
    result, log = crawl(gated, archive=gated.data / "archive")
    assert result["finish_reason"] == "finished", log[-3000:]
    assert stored_ids(gated) == truth_ids(gated) and len(truth_ids(gated)) == LISTINGS
    assert result["errors"] == 0
    assert stat_of(result, "page/state/ddos") >= 1  # waited in the queue once, then passed
    # 12 pages per session: the session expired mid-crawl and was renewed, more than once
    assert stat_of(result, "session/login/ok") >= 3
    assert stat_of(result, "page/state/login") >= stat_of(result, "session/login/ok")
    assert stat_of(result, "listing/dropped/not_a_listing") == 0
    # One isolation key for the whole session, queue and logins included: never a new circuit.
    assert {c.username for c in gated.socks.recorder.connects} == {"nightshade"}
    assert len({c.password for c in gated.socks.recorder.connects}) == 1

    # The session is saved privately, and its secrets are in no log line and no archive record.
    path = gated.sessions / "nightshade.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(gated.sessions.stat().st_mode) == 0o700
    record = SessionRecord.model_validate_json(path.read_text())
    assert {"queue", "sid"} <= {c.name for c in record.cookies}
    password = json.loads((gated.state / ACCOUNT_FILE).read_text())["password"]
    secrets_ = [password, *(c.value for c in record.cookies)]
    archived = b"".join(gzip.decompress(p.read_bytes()) for p in (gated.data / "archive").rglob("*.warc.gz"))
    assert archived, "the crawl archived nothing"
    for secret in secrets_:
        assert secret not in log
        assert secret.encode() not in archived
        assert secret not in json.dumps(result["stats"])


@pytest.mark.parametrize("gated", [("--gate", "login", "--session-requests", "1000")], indirect=True)
def test_saved_session_is_resumed_without_logging_in_again(gated: Market) -> None:
    first, _ = crawl(gated)
    assert stat_of(first, "session/login/ok") == 1
    second, log = crawl(gated, account=False)  # no account: only the saved session can get in
    assert second["finish_reason"] == "finished", log[-3000:]
    assert stat_of(second, "session/login/ok") == 0 and stat_of(second, "page/state/login") == 0
    assert stored_ids(gated) == truth_ids(gated)


@pytest.mark.parametrize("gated", [("--gate", "login")], indirect=True)
def test_login_wall_without_an_account_stops_the_market_cleanly(gated: Market) -> None:
    result, log = crawl(gated, account=False)
    assert result["finish_reason"] == "operator_needed"
    assert result["stored"] == 0
    assert stat_of(result, "session/login/no_account") == 1
    assert "no account configured" in log


@pytest.mark.parametrize(
    "gated", [("--gate", "ddos,captcha", "--queue-wait", "1", "--session-requests", "15")], indirect=True
)
def test_captcha_operator_handoff_then_expiry_recovery(
    gated: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, log = crawl(gated)
    assert first["finish_reason"] == "operator_needed" and first["stored"] == 0, (log[-2500:], first["stats"])
    assert stat_of(first, "session/operator_needed/login") == 1
    image = gated.sessions / "nightshade.captcha.png"
    assert image.read_bytes().startswith(b"\x89PNG") and stat.S_IMODE(image.stat().st_mode) == 0o600
    assert f"captcha image saved to {image}" in log and "onionwatch session nightshade --answer" in log
    assert stat_of(first, "fetch/refused/binary_type") == 0  # the one image allowed through

    monkeypatch.setenv("ONIONWATCH_DATA_DIR", str(gated.data))
    runner = CliRunner()
    shown = runner.invoke(session_app, ["nightshade"])
    assert shown.exit_code == 0 and f"captcha image: {image}" in shown.output
    assert "PNG" not in shown.output  # the path only, never the image

    args = ["nightshade", "--socks", gated.socks.address, "--account-file", str(gated.state / ACCOUNT_FILE)]
    answer = (gated.state / CAPTCHA_ANSWER_FILE).read_text().strip()
    wrong = runner.invoke(session_app, [*args, "--answer", "00000" if answer != "00000" else "11111"])
    assert isinstance(wrong.exception, SessionError)
    assert image.exists()  # a new captcha for the next try
    answer = (gated.state / CAPTCHA_ANSWER_FILE).read_text().strip()
    # The operator's login comes on a new circuit, which a real queue does not know: drop the
    # queue pass, so the login meets the queue first and has to wait it out.
    store = SessionStore(gated.sessions)
    store.update("nightshade", cookies=[c for c in store.load("nightshade").cookies if c.name != "queue"])
    right = runner.invoke(session_app, [*args, "--answer", answer])
    assert right.exit_code == 0, right.output
    assert "logged in to nightshade" in right.output and not image.exists()
    assert "DDoS queue, waiting 1 s" in right.output

    # The next crawl gets in with the operator's session, and when that session expires it logs
    # in again with the password alone (the solved captcha made this a trusted device).
    second, log = crawl(gated)
    assert second["finish_reason"] == "finished", log[-3000:]
    assert stored_ids(gated) == truth_ids(gated)
    assert stat_of(second, "session/login/ok") >= 1
    assert stat_of(second, "session/operator_needed/login") == 0


def test_pasted_cookie_and_store_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SessionStore(tmp_path / "sessions")
    store.update("mkt", login_url=f"http://{ONION}/login", operator_needed="captcha")
    monkeypatch.setenv("ONIONWATCH_DATA_DIR", str(tmp_path))
    result = CliRunner().invoke(session_app, ["mkt", "--cookie", "sid=abc123; Path=/"])
    assert result.exit_code == 0, result.output
    assert "abc123" not in result.output
    record = store.load("mkt")
    assert record.operator_needed is None
    assert [(c.name, c.value, c.domain) for c in record.cookies] == [("sid", "abc123", ONION)]
    jar = CookieJar()
    load_cookies(jar, record.cookies)
    assert dump_cookies(jar) == record.cookies
    no_captcha = CliRunner().invoke(session_app, ["mkt", "--answer", "12345"])
    assert isinstance(no_captcha.exception, ConfigError)
    assert "no captcha is waiting" in str(no_captcha.exception)
    with pytest.raises(ConfigError):
        cookie_from_text("no equals sign", ONION)
    with pytest.raises(ConfigError):
        store.path("../escape")
    assert StoredCookie(name="a", value="b", domain=ONION).host_only


def test_cookie_domain_check_never_touches_the_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scrapy's own CookiesMiddleware has tldextract fetch the public-suffix list from the Internet
    (directly, not through Tor) the first time a cookie arrives; ours uses the bundled list."""
    import socket

    from scrapy import Request
    from scrapy.http import Response
    from scrapy.utils.test import get_crawler

    from onionwatch.crawler.sessions import PersistentCookiesMiddleware

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access while handling a cookie")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    crawler = get_crawler(settings_dict={"ONIONWATCH_SESSIONS_DIR": str(tmp_path)})
    mw = PersistentCookiesMiddleware.from_crawler(crawler)
    request = Request(f"http://{ONION}/login")
    response = Response(
        request.url,
        headers={"Set-Cookie": [f"sid=s1; Domain={ONION}; Path=/", "bad=x; Domain=onion; Path=/"]},
    )
    mw.process_response(request, response)
    # the cookie for the market is kept; one for the whole .onion suffix is refused
    assert sorted(c.name for c in mw.jars[None].jar) == ["sid"]
