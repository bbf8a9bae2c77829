"""CLI command: ``onionwatch session MARKET`` - the operator's side of a market session.

When a crawl stops at a captcha it saves the image and the cookie jar that goes with it. The
operator looks at the image and answers here (``--answer``), or pastes a cookie from a Tor Browser
session (``--cookie NAME=VALUE``); the login happens through Tor (SOCKS5h, the market's isolation
key, the jar the crawler saved, so the captcha answered is the one that was shown) and the session
is saved for the next crawl. Without options it shows where the captcha image is and nothing else:
the image is for the operator's own viewer, never rendered here.
"""

from __future__ import annotations

import secrets
import time
from http.cookiejar import CookieJar
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import quote, urljoin, urlsplit

import typer

from onionwatch.errors import ConfigError, SessionError, TorUnavailableError

if TYPE_CHECKING:
    import httpx

    from onionwatch.crawler.pages.base import Page
    from onionwatch.crawler.sessions import Account, SessionRecord, SessionStore
    from onionwatch.settings import Settings

app = typer.Typer(no_args_is_help=True)

QUEUE_TRIES = 5
MAX_QUEUE_WAIT_S = 120.0


@app.command()
def session(
    market: Annotated[str, typer.Argument(help="market name (as crawled)")],
    answer: Annotated[str | None, typer.Option(help="the code shown in the saved captcha image")] = None,
    cookie: Annotated[
        str | None, typer.Option(help="a session cookie NAME=VALUE from a logged-in Tor Browser")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="login page URL (default: where the crawl met the login wall)")
    ] = None,
    socks: Annotated[
        str | None, typer.Option(help="Tor SOCKS HOST:PORT (default: settings, then the lab)")
    ] = None,
    account_file: Annotated[
        Path | None,
        typer.Option(help='JSON file {"username", "password"} (default: the market configuration)'),
    ] = None,
) -> None:
    """Show a market's pending captcha, or log in with the operator's answer or a pasted cookie."""
    from onionwatch.crawler.sessions import SessionStore
    from onionwatch.settings import load_settings

    settings = load_settings()
    store = SessionStore(settings.data_dir / "sessions")
    record = store.load(market)
    if answer is None and cookie is None:
        _show(store, record)
        return
    if answer is not None and cookie is not None:
        raise ConfigError("give --answer or --cookie, not both")
    if cookie is not None:
        _paste_cookie(store, record, cookie, url)
        return
    assert answer is not None
    if not store.captcha_path(market).exists():
        # An answer fits one image, shown to the saved cookie jar; without it there is nothing to answer.
        raise ConfigError(
            f"no captcha is waiting for an answer for {market}: crawl it first, or pass --cookie"
        )
    login_url = url or record.login_url or _configured_login_url(settings, market)
    account = _account(settings, market, account_file)
    _login(store, record, login_url, account, answer.strip(), _socks_address(settings, socks))


def _show(store: SessionStore, record: SessionRecord) -> None:
    captcha = store.captcha_path(record.market)
    if captcha.exists():
        typer.echo(f"captcha image: {captcha}")
    if record.operator_needed:
        typer.echo(f"waiting for the operator: {record.operator_needed} (at {record.login_url})")
    # The number of cookies only: their values are secrets.
    typer.echo(f"saved session: {len(record.cookies)} cookie(s), updated {record.updated_at or 'never'}")


def _paste_cookie(store: SessionStore, record: SessionRecord, text: str, url: str | None) -> None:
    from onionwatch.crawler.sessions import cookie_from_text

    host = urlsplit(url or record.login_url or "").hostname
    if not host:
        raise ConfigError("no market host known yet: pass --url http://<market>.onion/")
    pasted = cookie_from_text(text, host)
    cookies = [c for c in record.cookies if (c.name, c.domain) != (pasted.name, pasted.domain)]
    store.update(record.market, cookies=[*cookies, pasted], operator_needed=None)
    store.clear_captcha(record.market)
    typer.echo(f"saved cookie {pasted.name!r} for {host}; crawl again to use it")


def _login(
    store: SessionStore, record: SessionRecord, login_url: str, account: Account, answer: str, socks: str
) -> None:
    import httpx

    from onionwatch.crawler.pages.base import Page
    from onionwatch.crawler.pagestate import PageState, classify
    from onionwatch.crawler.sessions import dump_cookies, load_cookies, login_form
    from onionwatch.crawler.tor import parse_socks_address
    from onionwatch.errors import PageError

    jar = CookieJar()
    load_cookies(jar, record.cookies)
    host, port = parse_socks_address(socks)
    # The crawler's isolation key (the market name) with a fresh session token: Tor keeps this
    # login on circuits of its own, never shared with another market.
    proxy = f"socks5h://{quote(record.market, safe='')}:{secrets.token_hex(8)}@{host}:{port}"

    def page_of(response: httpx.Response) -> Page:
        return Page(
            url=str(response.url),
            body=response.content,
            market=record.market,
            content_type=response.headers.get("content-type"),
        )

    try:
        with httpx.Client(
            proxy=proxy, trust_env=False, follow_redirects=True, timeout=60.0, cookies=jar
        ) as client:
            wall = page_of(client.get(login_url))
            for _ in range(QUEUE_TRIES):
                # This login runs on a circuit of its own, and EndGame-style fronts tie their pass
                # to the circuit: expect the queue again, and wait it out as the page asks.
                verdict = classify(wall)
                if verdict.state is not PageState.DDOS:
                    break
                wait = min(MAX_QUEUE_WAIT_S, verdict.wait_s or 5.0)
                typer.echo(f"{record.market}: DDoS queue, waiting {wait:.0f} s", err=True)
                time.sleep(wait)  # a CLI process, not a reactor: a plain sleep is right here
                wall = page_of(client.get(login_url))
            try:
                form = login_form(wall)
            except PageError as exc:
                raise SessionError(f"{record.market}: no login form at {login_url}") from exc
            response = client.request(form.method, form.action, data=form.fill(account, answer or None))
            after = page_of(response)
            state = classify(after, status=response.status_code).state
            if state in (PageState.LOGIN, PageState.CAPTCHA):
                _save_new_captcha(client, store, record.market, after)
                store.update(record.market, cookies=dump_cookies(client.cookies.jar))
                raise SessionError(
                    f"{record.market}: the market refused the login (wrong answer or account); "
                    f"a new captcha may be saved at {store.captcha_path(record.market)}"
                )
            store.update(
                record.market,
                cookies=dump_cookies(client.cookies.jar),
                login_url=login_url,
                operator_needed=None,
            )
    except httpx.HTTPError as exc:
        raise TorUnavailableError(f"cannot reach {login_url} through Tor at {socks}: {exc}") from exc
    store.clear_captcha(record.market)
    typer.echo(f"logged in to {record.market} as {account.username}; session saved, crawl again to use it")


def _save_new_captcha(client: httpx.Client, store: SessionStore, market: str, page: Page) -> None:
    from onionwatch.crawler.pagestate import captcha_image

    image = captcha_image(page)
    if image is None:
        return
    response = client.get(image)
    if response.status_code == 200 and response.content:
        store.save_captcha(market, response.content)


def _account(settings: Settings, market: str, account_file: Path | None) -> Account:
    from onionwatch.crawler.sessions import Account, read_account_file
    from onionwatch.settings import load_markets

    if account_file is not None:
        return read_account_file(account_file)
    config = load_markets(settings.markets_dir).get(market)
    password = config.password() if config else None
    if config is None or config.login is None or password is None:
        raise ConfigError(
            f"no account for {market}: set login.username in config/markets/{market}.yaml and "
            f"ONIONWATCH_MARKET_{market.upper().replace('-', '_')}_PASSWORD, or pass --account-file"
        )
    return Account(username=config.login.username, password=password)


def _configured_login_url(settings: Settings, market: str) -> str:
    from onionwatch.settings import load_markets

    config = load_markets(settings.markets_dir).get(market)
    if config is None:
        raise ConfigError(f"no login page known for {market}: crawl it first, or pass --url")
    path = config.login.path if config.login else "/login"
    return urljoin(config.mirrors[0], path)


def _socks_address(settings: Settings, explicit: str | None) -> str:
    from onionwatch.commands.crawl import check_socks
    from onionwatch.lab.lab import Lab

    address = explicit
    if address is None and settings.tor.socks_port is not None:
        address = f"{settings.tor.socks_host}:{settings.tor.socks_port}"
    if address is None:
        state = Lab.status(settings.lab_dir)
        address = f"{state.socks_host}:{state.socks_port}" if state else None
    if address is None:
        raise TorUnavailableError(
            "no Tor SOCKS port configured (--socks, ONIONWATCH_TOR__SOCKS_PORT or a lab)"
        )
    check_socks(address)
    return address
