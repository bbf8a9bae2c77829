"""CLI commands: crawl and demo (the main job)."""

from __future__ import annotations

import json
import socket
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from onionwatch.errors import ConfigError, LabError, TorUnavailableError

if TYPE_CHECKING:
    from onionwatch.crawler.run import CrawlReport, CrawlTarget
    from onionwatch.crawler.sessions import Account
    from onionwatch.index.store import Store
    from onionwatch.lab.lab import LabState
    from onionwatch.settings import Settings, TorSettings

app = typer.Typer(no_args_is_help=True)


def _say(message: str) -> None:
    typer.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


def check_socks(address: str, timeout: float = 3.0) -> None:
    """Refuse to start a crawl when Tor's SOCKS port does not answer (nothing is fetched otherwise)."""
    from onionwatch.crawler.tor import parse_socks_address

    try:
        host, port = parse_socks_address(address)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise TorUnavailableError(
            f"Tor SOCKS port {address} is not reachable ({exc.strerror or exc}); nothing was fetched. "
            "Start Tor (or `onionwatch lab up`) and try again."
        ) from exc


def ensure_tor_ready(settings: Settings, state: LabState | None, timeout: float = 60.0) -> None:
    """With a control port known (settings or the lab), refuse to crawl until Tor is bootstrapped."""
    from onionwatch.crawler.torctl import control_for

    control = control_for(settings.tor, (state.control_port, state.control_cookie) if state else None)
    if control is None:
        return  # SOCKS only: the pre-flight connect and the fail-closed handler still apply
    with control:
        health = control.health()
        if not health.ready:
            _say(f"waiting for Tor: {health.describe()}")
            control.wait_ready(timeout)


def _tor_control(settings: Settings) -> TorSettings | None:
    """The control port a ban may ask for a new identity through: configured, else the lab's."""
    from onionwatch.settings import TorSettings

    if settings.tor.control_port is not None:
        return settings.tor
    state = _lab_state(settings)
    if state is None:
        return None
    return TorSettings(control_port=state.control_port, cookie_path=state.control_cookie)


def _lab_state(settings: Settings) -> LabState | None:
    from onionwatch.lab.lab import Lab

    return Lab.status(settings.lab_dir)


def _socks_from_settings(settings: Settings) -> str | None:
    if settings.tor.socks_port is None:
        return None
    return f"{settings.tor.socks_host}:{settings.tor.socks_port}"


def _socks(settings: Settings, explicit: str | None, state: LabState | None) -> str:
    socks = explicit or _socks_from_settings(settings)
    if socks is None and state is not None:
        socks = f"{state.socks_host}:{state.socks_port}"
    if socks is None:
        raise TorUnavailableError(
            "no Tor SOCKS port configured (--socks, ONIONWATCH_TOR__SOCKS_PORT or a lab)"
        )
    return socks


def _targets(
    settings: Settings, markets: list[str], url: str | None, engine: str, socks: str | None
) -> tuple[list[CrawlTarget], str]:
    """What to crawl: an explicit URL, else configured markets (config/markets), else lab markets."""
    from onionwatch.crawler.run import CrawlTarget, target_for
    from onionwatch.lab.market import MARKET_ENGINES
    from onionwatch.settings import load_markets

    state = _lab_state(settings)
    if url is not None:
        if len(markets) != 1:
            raise ConfigError("--url needs exactly one MARKET name")
        return [CrawlTarget(markets[0], url, engine)], _socks(settings, socks, state)
    configured = load_markets(settings.markets_dir)
    lab_markets = state.markets if state is not None else {}
    if not markets:
        markets = sorted(lab_markets) or sorted(configured)
    if not markets:
        raise LabError(
            f"nothing to crawl: no market in {settings.markets_dir}, the lab is not running "
            "(`onionwatch lab up`), and no --url given"
        )
    unknown = [m for m in markets if m not in configured and m not in lab_markets]
    if unknown:
        known = ", ".join(sorted({*configured, *lab_markets})) or "none"
        raise ConfigError(f"unknown market(s): {', '.join(unknown)} (known: {known})")
    mirrors_dir = settings.data_dir / "mirrors"
    targets = [
        target_for(configured[m], mirrors_dir)
        if m in configured
        # each lab market is read by its own engine's page objects (--engine is for --url)
        else CrawlTarget(
            m, lab_markets[m].url, MARKET_ENGINES.get(m, engine), account=_lab_account(settings, m)
        )
        for m in markets
    ]
    return targets, _socks(settings, socks, state)


def _lab_account(settings: Settings, market: str) -> Account | None:
    """A gated lab market's test account, from the file the lab wrote (as an operator's secrets file)."""
    from onionwatch.crawler.sessions import read_account_file

    path = settings.lab_dir / "markets" / market / "account.json"
    return read_account_file(path) if path.is_file() else None


def _print_report(report: CrawlReport) -> None:
    for m in report.markets:
        dropped = ", ".join(f"{k}={v}" for k, v in sorted(m.dropped.items())) or "none"
        events = ", ".join(f"{k}={v}" for k, v in sorted(m.events.items())) or "none"
        typer.echo(
            f"{m.market}: {m.finish_reason}; {m.pages} pages, {m.listings_stored} listings stored "
            f"({m.listings_created} new, {m.removed} removed), dropped: {dropped}, errors: {m.errors}, "
            f"events: {events}"
        )
    typer.echo(f"crawl {report.crawl_id} took {report.seconds:.1f} s")


def _open_store(settings: Settings) -> Store:
    from onionwatch.index.factory import open_store

    store = open_store(settings)
    store.setup()
    return store


@app.command()
def crawl(
    markets: Annotated[
        list[str] | None, typer.Argument(help="market names (default: every lab market)")
    ] = None,
    url: Annotated[str | None, typer.Option(help="start URL of the market (one MARKET)")] = None,
    engine: Annotated[str, typer.Option(help="page-object engine of the market")] = "nightshade",
    socks: Annotated[
        str | None, typer.Option(help="Tor SOCKS HOST:PORT (default: settings, then the lab)")
    ] = None,
    baseline: Annotated[bool, typer.Option(help="record first-seen facts without new-item events")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the crawl report as JSON")] = False,
) -> None:
    """Crawl markets through Tor into the store."""
    from onionwatch.crawler.run import crawl as run_crawl
    from onionwatch.settings import load_settings

    settings = load_settings()
    targets, socks_address = _targets(settings, markets or [], url, engine, socks)
    check_socks(socks_address)
    if socks is None:  # an explicit --socks names a Tor we know nothing else about
        ensure_tor_ready(settings, _lab_state(settings))
    store = _open_store(settings)
    try:
        report = run_crawl(
            targets,
            settings=settings,
            socks=socks_address,
            store=store,
            baseline=baseline,
            progress=_say,
            # an explicit --socks names a Tor whose control port we do not know
            tor_control=None if socks else _tor_control(settings),
        )
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps([{k: v for k, v in vars(m).items() if k != "stats"} for m in report.markets]))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def demo(
    listings: Annotated[int, typer.Option(help="listings per simulated market")] = 60,
) -> None:
    """The main job: lab up -> crawl through Tor -> extract -> index -> events -> summary -> lab down."""
    from onionwatch.commands.summary import demo_summary
    from onionwatch.crawler.run import CrawlTarget
    from onionwatch.crawler.run import crawl as run_crawl
    from onionwatch.lab.lab import Lab
    from onionwatch.lab.market import MARKET_ENGINES, MARKET_NAMES
    from onionwatch.settings import load_settings

    settings = load_settings()
    started = time.monotonic()
    seeded = ["--listings", str(listings), "--seed", str(settings.lab.seed)]
    market_args = {name: [*seeded, "--engine", MARKET_ENGINES[name]] for name in MARKET_NAMES}
    lab = Lab(settings.lab_dir, base_port=settings.lab.base_port, market_args=market_args, progress=_say)
    _say(
        f"starting the lab (private Tor network + {len(MARKET_NAMES)} onion market(s)) in {settings.lab_dir}"
    )
    with lab as state:
        _say(f"lab ready in {state.ready_seconds:.1f} s; Tor SOCKS {state.socks_host}:{state.socks_port}")
        for name, endpoint in state.markets.items():
            _say(f"market {name} at {endpoint.url}")
        targets = [
            CrawlTarget(name, endpoint.url, MARKET_ENGINES[name]) for name, endpoint in state.markets.items()
        ]
        store = _open_store(settings)
        try:
            report = run_crawl(
                targets,
                settings=settings,
                socks=f"{state.socks_host}:{state.socks_port}",
                store=store,
                progress=_say,
            )
            _say("crawl done; stopping the lab")
            typer.echo(
                demo_summary(
                    report,
                    store,
                    truth_dirs=_truth_dirs(state),
                    elapsed=time.monotonic() - started,
                    home_country=settings.home_country,
                )
            )
        finally:
            store.close()
    if not report.ok:
        raise typer.Exit(1)


def _truth_dirs(state: LabState) -> dict[str, Path]:
    return {name: state.directory / "markets" / name for name in state.markets}


@app.command()
def reparse(
    market: Annotated[str | None, typer.Option(help="only this market's archive")] = None,
    into: Annotated[
        Path | None, typer.Option(help="SQLite file to rebuild into (default: the configured store)")
    ] = None,
    enrich: Annotated[bool, typer.Option(help="run the extraction pipeline on the rebuilt listings")] = True,
) -> None:
    """Rebuild listings from the WARC archive, without the network."""
    from onionwatch.crawler.reparse import reparse as run_reparse
    from onionwatch.settings import load_settings

    settings = load_settings()
    if into is not None:
        from onionwatch.index.sqlite import SqliteStore

        store: Store = SqliteStore(into)
        store.setup()
    else:
        store = _open_store(settings)
    from onionwatch.extractors import enrich as enrich_listings  # spaCy loads only when used

    try:
        report = run_reparse(
            settings.archive_dir,
            store,
            market=market,
            enrich=partial(enrich_listings, home_country=settings.home_country) if enrich else None,
        )
    finally:
        store.close()
    skipped = ", ".join(f"{k}={v}" for k, v in sorted(report.skipped.items())) or "none"
    typer.echo(
        f"reparsed {report.files} archive file(s): {report.pages} pages, {report.listings} listings, "
        f"{report.written} observations written; skipped: {skipped}"
    )
    if report.files == 0:
        raise typer.Exit(1)


@app.command("denylist-hash")
def denylist_hash(
    url: Annotated[str, typer.Argument(help="the address to keep the crawler away from")],
    host: Annotated[bool, typer.Option(help="deny the whole host, not just this URL")] = False,
) -> None:
    """Print the line to add to the denylist file (crawl.denylist) for URL; the file holds only hashes."""
    from onionwatch.crawler.middlewares import denylist_hashes

    by_url, by_host = denylist_hashes(url)
    typer.echo(by_host if host else by_url)
