"""Mirror health and failover: markets move between onion addresses, and mirrors die mid-crawl.

A market is one stable id (its config name) behind several mirrors. :class:`MirrorBook` keeps each
mirror's last success and last failure on disk, so the next crawl starts on the mirror that worked.
:class:`MirrorFailoverMiddleware` sends every request of a market to its current mirror, and when a
mirror stops answering (connection-level failure through Tor) moves the request, and the rest of
the crawl, to the next mirror without waiting for Scrapy's retries on the dead one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from scrapy.exceptions import NotConfigured

from onionwatch.models import utcnow

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)


@dataclass
class MirrorHealth:
    last_ok: str | None = None
    last_failure: str | None = None
    consecutive_failures: int = 0


class MirrorBook:
    """Per-market mirror health, persisted as JSON under ``<data dir>/mirrors/<market>.json``."""

    def __init__(self, path: Path, mirrors: Sequence[str]) -> None:
        self.path = path
        self.health: dict[str, MirrorHealth] = {base(m): MirrorHealth() for m in mirrors}
        if path.is_file():
            stored = json.loads(path.read_text(encoding="utf-8"))
            for mirror, values in stored.items():
                if mirror in self.health:
                    self.health[mirror] = MirrorHealth(**values)

    def ordered(self) -> list[str]:
        """Healthy first: fewest consecutive failures, then most recent success, then config order."""
        order = list(self.health)

        def rank(mirror: str) -> tuple[int, float, int]:
            h = self.health[mirror]
            last_ok = datetime.fromisoformat(h.last_ok).timestamp() if h.last_ok else 0.0
            return (h.consecutive_failures, -last_ok, order.index(mirror))

        return sorted(order, key=rank)

    def ok(self, mirror: str, at: datetime | None = None) -> None:
        h = self.health[mirror]
        h.last_ok = (at or utcnow()).isoformat()
        h.consecutive_failures = 0

    def failed(self, mirror: str, at: datetime | None = None) -> None:
        h = self.health[mirror]
        h.last_failure = (at or utcnow()).isoformat()
        h.consecutive_failures += 1

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({m: asdict(h) for m, h in self.health.items()}, indent=1), encoding="utf-8")
        tmp.replace(self.path)


def base(url: str) -> str:
    """``http://x.onion/any/path?q`` -> ``http://x.onion``: what identifies a mirror."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def on_mirror(url: str, mirror: str) -> str:
    parts = urlsplit(url)
    target = urlsplit(mirror)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


class MirrorFailoverMiddleware:
    """Downloader middleware for spiders with a ``mirrors`` attribute (ordered, best first)."""

    def __init__(self, crawler: Crawler, directory: Path) -> None:
        self.crawler = crawler
        self.directory = directory
        self.books: dict[str, MirrorBook] = {}
        self.current: dict[str, str] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MirrorFailoverMiddleware:
        from scrapy import signals

        directory = crawler.settings.get("ONIONWATCH_MIRRORS_DIR")
        if not directory:
            raise NotConfigured("no ONIONWATCH_MIRRORS_DIR: mirror health is not tracked")
        middleware = cls(crawler, Path(directory))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider: Spider) -> None:
        mirrors = getattr(spider, "mirrors", None)
        market = getattr(spider, "market", None)
        if mirrors and market:
            book = MirrorBook(self.directory / f"{market}.json", mirrors)
            self.books[market] = book
            self.current[market] = base(mirrors[0])

    def spider_closed(self) -> None:
        for book in self.books.values():
            book.save()

    def _market(self, request: Request) -> str | None:
        market = request.meta.get("market")
        return market if market in self.books else None

    def process_request(self, request: Request) -> Request | None:
        market = self._market(request)
        if market is None:
            return None
        current = self.current[market]
        if base(request.url) != current and base(request.url) in self.books[market].health:
            # A link from a page of an older mirror: follow it on the mirror that works now.
            return request.replace(url=on_mirror(request.url, current))
        return None

    def process_response(self, request: Request, response: Response) -> Response:
        market = self._market(request)
        if market is not None and base(response.url) in self.books[market].health:
            self.books[market].ok(base(response.url))
        return response

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        market = self._market(request)
        if market is None:
            return None
        book = self.books[market]
        failed = base(request.url)
        if failed not in book.health:
            return None
        book.failed(failed)
        stats = self.crawler.stats
        if stats is not None:
            stats.inc_value("mirror/failed")
        if self.current[market] == failed:
            healthy = [m for m in book.ordered() if m != failed]
            if not healthy:
                return None  # no other mirror: Scrapy's retry middleware takes over
            self.current[market] = healthy[0]
            logger.warning(
                "%s: mirror %s failed (%s); switching to %s", market, failed, exception, healthy[0]
            )
            if stats is not None:
                stats.inc_value("mirror/switched")
        tried = request.meta.get("mirrors_tried", 0) + 1
        if tried >= len(book.health):
            return None
        meta = {**request.meta, "mirrors_tried": tried}
        return request.replace(url=on_mirror(request.url, self.current[market]), meta=meta, dont_filter=True)
