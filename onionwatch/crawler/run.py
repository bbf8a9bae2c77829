"""Run crawls in this process: the one place a Scrapy crawler process is built.

Called by the CLI (``onionwatch crawl``, ``onionwatch demo``). Twisted's reactor runs once per
process, so one call crawls every target and returns when all are done.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onionwatch.crawler.addon import OnionwatchAddon
from onionwatch.crawler.sessions import Account
from onionwatch.models import VendorPage, utcnow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from onionwatch.index.store import Store
    from onionwatch.settings import MarketConfig, Settings, TorSettings


@dataclass(frozen=True)
class CrawlTarget:
    market: str
    start_url: str
    engine: str = "nightshade"
    isolation: str | None = None
    #: all mirrors, best first; empty = the start URL's host only
    mirrors: tuple[str, ...] = ()
    concurrency: int | None = None
    download_delay: float | None = None
    circuits: int = 1
    #: the market account for login walls (username, password); never logged
    account: Account | None = None
    #: further entry pages on the same mirror, read like the start page
    extra_paths: tuple[str, ...] = ()


def target_for(market: MarketConfig, mirrors_dir: Path) -> CrawlTarget:
    """A configured market, starting on its healthiest mirror (as the last crawls found them)."""
    from onionwatch.crawler.mirrors import MirrorBook, on_mirror

    ordered = MirrorBook(mirrors_dir / f"{market.name}.json", market.mirrors).ordered()
    password = market.password()
    account = (
        Account(username=market.login.username, password=password) if market.login and password else None
    )
    return CrawlTarget(
        market=market.name,
        start_url=on_mirror(market.start_paths[0], ordered[0]),
        extra_paths=tuple(market.start_paths[1:]),
        engine=market.engine,
        mirrors=tuple(ordered),
        concurrency=market.concurrency,
        download_delay=market.download_delay,
        circuits=market.circuits,
        account=account,
    )


@dataclass
class MarketReport:
    market: str
    finish_reason: str | None
    pages: int
    listings_stored: int
    listings_created: int
    dropped: dict[str, int]
    errors: int
    events: dict[str, int]
    stats: dict[str, Any] = field(repr=False)
    #: listings marked removed because this full crawl no longer saw them
    removed: int = 0
    #: times the crawl paused because Tor itself was down
    tor_outages: int = 0
    #: new Tor identities asked for after a ban
    tor_newnyms: int = 0

    @property
    def complete(self) -> bool:
        """Finished without errors and stored something: only then is "not seen" evidence of removal."""
        return self.finish_reason == "finished" and self.errors == 0 and self.listings_stored > 0


@dataclass
class CrawlReport:
    crawl_id: str
    seconds: float
    markets: list[MarketReport]

    @property
    def ok(self) -> bool:
        return all(m.finish_reason == "finished" and m.errors == 0 for m in self.markets)


def scrapy_settings(
    settings: Settings,
    *,
    socks: str,
    store: Store,
    crawl_id: str,
    baseline: bool = False,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ADDONS": {OnionwatchAddon: 0},
        "ONIONWATCH_TOR_SOCKS": socks,
        "ONIONWATCH_STORE_PROVIDER": lambda: store,
        "ONIONWATCH_CRAWL_ID": crawl_id,
        "ONIONWATCH_BASELINE": baseline,
        "CONCURRENT_REQUESTS": settings.crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.crawl.concurrency,
        "DOWNLOAD_DELAY": settings.crawl.download_delay,
        "AUTOTHROTTLE_START_DELAY": max(settings.crawl.download_delay, 0.25),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(settings.crawl.concurrency),
        "DOWNLOAD_MAXSIZE": settings.crawl.max_page_bytes,
        "DOWNLOAD_WARNSIZE": settings.crawl.max_page_bytes // 2,
        "DOWNLOAD_TIMEOUT": settings.crawl.download_timeout,
        "USER_AGENT": settings.crawl.user_agent,
        "ONIONWATCH_ENRICH_ENABLED": settings.crawl.enrich,
        "ONIONWATCH_HOME_COUNTRY": settings.home_country,
        "ONIONWATCH_ARCHIVE_DIR": str(settings.archive_dir) if settings.crawl.archive else None,
        "ONIONWATCH_MIRRORS_DIR": str(settings.data_dir / "mirrors"),
        "ONIONWATCH_SESSIONS_DIR": str(settings.data_dir / "sessions"),
        "ONIONWATCH_DENYLIST": str(settings.crawl.denylist) if settings.crawl.denylist else None,
        "LOG_LEVEL": "WARNING",
        "LOG_FORMAT": "%(levelname)s %(name)s: %(message)s",
    }
    values.update(extra or {})
    return values


def _market_report(crawler: Crawler, market: str) -> MarketReport:
    assert crawler.stats is not None
    stats = dict(crawler.stats.get_stats())
    return MarketReport(
        market=market,
        finish_reason=stats.get("finish_reason"),
        pages=int(stats.get("response_received_count", 0)),
        listings_stored=int(stats.get("listing/stored", 0)),
        listings_created=int(stats.get("listing/created", 0)),
        dropped={
            k.removeprefix("listing/dropped/"): int(v)
            for k, v in stats.items()
            if k.startswith("listing/dropped/")
        },
        # Requests that finally failed (Scrapy logs each as an error); a download exception that a
        # retry, a mirror failover or a Tor-outage requeue recovered is not an error of the crawl.
        errors=int(stats.get("log_count/ERROR", 0)),
        events={k.removeprefix("events/"): int(v) for k, v in stats.items() if k.startswith("events/")},
        stats=stats,
        tor_outages=int(stats.get("tor/outage/paused", 0)),
        tor_newnyms=int(stats.get("tor/newnym", 0)),
    )


def crawl(
    targets: Sequence[CrawlTarget],
    *,
    settings: Settings,
    socks: str,
    store: Store,
    baseline: bool = False,
    progress: Callable[[str], None] | None = None,
    extra_settings: dict[str, Any] | None = None,
    tor_control: TorSettings | None = None,
) -> CrawlReport:
    """Crawl every target through Tor at ``socks`` into ``store``; blocks until all are done.

    ``tor_control`` (a control port, with cookie or password) lets a detected ban ask Tor for a new
    identity; without it a ban stops the market for the operator."""
    from scrapy.crawler import CrawlerProcess

    from onionwatch.crawler.spiders.market import MarketSpider

    crawl_id = uuid.uuid4().hex
    logins = {t.market: t.account.model_dump() for t in targets if t.account is not None}
    process = CrawlerProcess(
        scrapy_settings(
            settings,
            socks=socks,
            store=store,
            crawl_id=crawl_id,
            baseline=baseline,
            extra={
                "ONIONWATCH_LOGINS": logins,
                "ONIONWATCH_TOR_CONTROL": tor_control,
                **(extra_settings or {}),
            },
        ),
    )
    crawlers: list[tuple[Crawler, str]] = []
    jobs: dict[str, JobState] = {}
    for target in targets:
        crawler = process.create_crawler(MarketSpider)
        job = JobState.open(settings.data_dir / "jobs" / target.market, crawl_id)
        jobs[target.market] = job
        if job.resumed and progress is not None:
            progress(f"{target.market}: resuming the interrupted crawl {job.crawl_id} from its saved queue")
        # The queue and the seen-requests filter live in the job dir: a crawl stopped by a Tor
        # outage (or Ctrl-C) resumes where it stopped, under the same crawl id.
        crawler.settings.set("JOBDIR", str(job.directory / "scrapy"), priority="spider")
        crawler.settings.set("ONIONWATCH_CRAWL_ID", job.crawl_id, priority="spider")
        if progress is not None:
            _attach_progress(crawler, target.market, progress)
        crawlers.append((crawler, target.market))
        # Per-market politeness, set before the crawler freezes its settings.
        if target.concurrency is not None:
            crawler.settings.set("CONCURRENT_REQUESTS_PER_DOMAIN", target.concurrency, priority="spider")
        if target.download_delay is not None:
            crawler.settings.set("DOWNLOAD_DELAY", target.download_delay, priority="spider")
            crawler.settings.set(
                "AUTOTHROTTLE_START_DELAY", max(target.download_delay, 0.25), priority="spider"
            )
        if target.concurrency is not None:
            crawler.settings.set(
                "AUTOTHROTTLE_TARGET_CONCURRENCY", float(target.concurrency), priority="spider"
            )
        process.crawl(
            crawler,
            market=target.market,
            start_url=target.start_url,
            engine=target.engine,
            isolation=target.isolation,
            mirrors=target.mirrors,
            circuits=target.circuits,
            extra_paths=target.extra_paths,
        )
    # Scrapy sets the root logger to DEBUG (its handler filters); spaCy's own stream handler does
    # not filter, so its initialisation chatter would reach the terminal.
    logging.getLogger("spacy").setLevel(logging.WARNING)
    started = time.monotonic()
    process.start()
    reports = [_market_report(c, m) for c, m in crawlers]
    for report in reports:
        job = jobs[report.market]
        if report.complete:
            # A resumed crawl started when its first run did: listings seen then are not removed.
            result = store.mark_removed(report.market, job.started_at)
            report.removed = len(result.events)
            if report.removed:
                report.events["removed"] = report.removed
        if report.finish_reason == "finished":
            job.finish()
    return CrawlReport(crawl_id, time.monotonic() - started, reports)


@dataclass
class JobState:
    """A market's crawl in progress: its id, when it started, and Scrapy's persisted queue."""

    directory: Path
    crawl_id: str
    started_at: datetime
    resumed: bool

    @classmethod
    def open(cls, directory: Path, new_crawl_id: str) -> JobState:
        marker = directory / "job.json"
        if marker.is_file():
            data = json.loads(marker.read_text(encoding="utf-8"))
            return cls(directory, data["crawl_id"], datetime.fromisoformat(data["started_at"]), True)
        directory.mkdir(parents=True, exist_ok=True)
        job = cls(directory, new_crawl_id, utcnow(), False)
        marker.write_text(json.dumps({"crawl_id": job.crawl_id, "started_at": job.started_at.isoformat()}))
        return job

    def finish(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _attach_progress(crawler: Crawler, market: str, progress: Callable[[str], None], every: int = 10) -> None:
    from scrapy import signals

    counts = {"items": 0}

    def item_scraped(item: Any, **_: Any) -> None:
        if isinstance(item, VendorPage):
            return  # a vendor profile, not a listing
        counts["items"] += 1
        if counts["items"] % every == 0:
            assert crawler.stats is not None
            pages = crawler.stats.get_value("response_received_count", 0)
            progress(f"{market}: {pages} pages fetched, {counts['items']} listings stored")

    def spider_closed(reason: str, **_: Any) -> None:
        progress(f"{market}: crawl {reason}, {counts['items']} listings stored")

    crawler.signals.connect(item_scraped, signal=signals.item_scraped, weak=False)
    crawler.signals.connect(spider_closed, signal=signals.spider_closed, weak=False)
