"""The market spider: home -> categories (paged) -> listings -> each listing's vendor profile, for any
engine with page objects. A vendor is fetched once per crawl however many listings link them
(Scrapy's duplicate filter drops the repeats)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any
from urllib.parse import urljoin

from scrapy import Request, Spider
from scrapy.http import Response

from onionwatch.crawler.archive import FETCHED_AT_META_KEY
from onionwatch.crawler.engines import engine_pages
from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.tor import ISOLATION_META_KEY
from onionwatch.errors import PageError
from onionwatch.models import Listing, VendorPage, utcnow


class MarketSpider(Spider):
    name = "market"

    def __init__(
        self,
        market: str,
        start_url: str,
        engine: str = "nightshade",
        isolation: str | None = None,
        mirrors: Sequence[str] = (),
        circuits: int = 1,
        extra_paths: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(name=f"market:{market}", **kwargs)
        self.market = market
        self.start_url = start_url
        #: every mirror of the market, best first (the failover middleware reads this)
        self.mirrors = list(mirrors) or [start_url]
        self.circuits = max(1, circuits)
        self.extra_paths = tuple(extra_paths)
        self._sent = 0
        self.engine = engine
        self.pages = engine_pages(engine)
        # One isolation key per market session: all of this crawl's requests share Tor circuits,
        # and no other market shares them.
        self.isolation = isolation or market

    async def start(self) -> AsyncIterator[Request]:
        yield self._request(self.start_url, self.parse_home)
        for path in self.extra_paths:
            yield self._request(urljoin(self.start_url, path), self.parse_home)

    def _isolation(self) -> str:
        # Several isolated circuits spread the load; one (the default) keeps a session on one circuit.
        if self.circuits == 1:
            return self.isolation
        self._sent += 1
        return f"{self.isolation}-{self._sent % self.circuits}"

    def _request(self, url: str, callback: Any) -> Request:
        return Request(
            url,
            callback=callback,
            meta={ISOLATION_META_KEY: self._isolation(), "market": self.market, "engine": self.engine},
        )

    def _page(self, response: Response) -> Page:
        content_type = response.headers.get(b"Content-Type")
        return Page(
            url=response.url,
            body=response.body,
            market=self.market,
            content_type=content_type.decode("latin-1") if content_type else None,
            # the archive's fetch time, so a reparse of the archive rebuilds the same listing
            crawled_at=response.meta.get(FETCHED_AT_META_KEY) or utcnow(),
        )

    def parse_home(self, response: Response) -> Iterator[Request]:
        for url in self.pages.home(self._page(response)):
            yield self._request(url, self.parse_category)

    def parse_category(self, response: Response) -> Iterator[Request]:
        try:
            category = self.pages.category(self._page(response))
        except PageError as exc:
            self._count("page/unexpected/category")
            self.logger.warning("%s", exc)
            return
        for url in category.listing_urls:
            yield self._request(url, self.parse_listing)
        if category.next_url:
            yield self._request(category.next_url, self.parse_category)

    def parse_listing(self, response: Response) -> Iterator[Listing | Request]:
        page = self._page(response)
        try:
            yield self.pages.listing(page)
        except PageError as exc:
            self._count("listing/dropped/not_a_listing")
            self.logger.warning("%s", exc)
            return
        vendor_url = self.pages.vendor_link(page)
        if vendor_url:
            yield self._request(vendor_url, self.parse_vendor)

    def parse_vendor(self, response: Response) -> Iterator[VendorPage]:
        try:
            vendor = self.pages.vendor(self._page(response))
        except PageError as exc:
            self._count("vendor/dropped/not_a_vendor")
            self.logger.warning("%s", exc)
            return
        self._count("vendor/pages")
        yield vendor

    def _count(self, key: str) -> None:
        assert self.crawler.stats is not None
        self.crawler.stats.inc_value(key)
