"""Scrapy adapters of the enrich and store stages: batch the items, run the stage off the reactor.

Each stage is a plain library function (``onionwatch.extractors.enrich``, ``Store.write``); these
pipelines only batch, count and translate failures (``DropItem`` with a counted reason).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import DropItem, NotConfigured

from onionwatch.crawler.batching import Batcher
from onionwatch.errors import OnionwatchError, StoreUnavailableError
from onionwatch.models import (
    EnrichedListing,
    EnrichedVendorPage,
    Listing,
    Observation,
    VendorPage,
    WriteResult,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from onionwatch.index.store import Store

logger = logging.getLogger(__name__)


def _stats(crawler: Crawler) -> StatsCollector:
    assert crawler.stats is not None
    return crawler.stats


class EnrichPipeline:
    """Listing -> EnrichedListing through the spaCy pipeline, in batches, in a worker thread."""

    def __init__(
        self,
        stats: StatsCollector,
        *,
        batch_size: int = 64,
        max_delay: float = 0.5,
        home_country: str | None = None,
    ) -> None:
        self.stats = stats
        self.home_country = home_country
        self._batcher: Batcher[Listing, EnrichedListing] = Batcher(
            self._enrich, size=batch_size, max_delay=max_delay, name="enrich"
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EnrichPipeline:
        if not crawler.settings.getbool("ONIONWATCH_ENRICH_ENABLED", True):
            raise NotConfigured("enrichment disabled (ONIONWATCH_ENRICH_ENABLED=False)")
        return cls(
            _stats(crawler),
            batch_size=crawler.settings.getint("ONIONWATCH_ENRICH_BATCH_SIZE", 64),
            max_delay=crawler.settings.getfloat("ONIONWATCH_BATCH_MAX_DELAY", 0.5),
            home_country=crawler.settings.get("ONIONWATCH_HOME_COUNTRY"),
        )

    def _enrich(self, listings: Sequence[Listing]) -> Sequence[EnrichedListing]:
        from onionwatch.extractors import enrich  # spaCy loads in the worker, not at import

        return enrich(listings, home_country=self.home_country)

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, Listing):
            return item
        try:
            enriched = await self._batcher.submit(item)
        except OnionwatchError as exc:
            self.stats.inc_value("listing/dropped/enrich_failed")
            raise DropItem(f"enrichment failed for {item.url}: {exc}") from exc
        self.stats.inc_value("listing/enriched")
        if enriched.enrichment.fentanyl_class:
            self.stats.inc_value("listing/fentanyl_class")
        return enriched

    async def close_spider(self) -> None:
        await self._batcher.drain()
        self._batcher.close()


class StorePipeline:
    """Writes each (enriched) listing as an observation; counts the events the store reports.
    Vendor pages are read for their keys and addresses here (no spaCy needed) and recorded."""

    def __init__(
        self,
        stats: StatsCollector,
        store: Store,
        *,
        crawl_id: str,
        owns_store: bool,
        baseline: bool = False,
        batch_size: int = 100,
        max_delay: float = 0.5,
    ) -> None:
        self.stats = stats
        self.store = store
        self.crawl_id = crawl_id
        self.baseline = baseline
        self._owns_store = owns_store
        self._batcher: Batcher[Observation, WriteResult] = Batcher(
            self._write, size=batch_size, max_delay=max_delay, name="store"
        )
        self._vendor_batcher: Batcher[VendorPage, EnrichedVendorPage] = Batcher(
            self._write_vendor_pages, size=batch_size, max_delay=max_delay, name="store-vendors"
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        # A zero-argument callable, not the store itself: Scrapy deep-copies settings, and a
        # function survives that as the same object while a live connection cannot be copied.
        provider = settings.get("ONIONWATCH_STORE_PROVIDER")
        owns_store = provider is None
        if provider is not None:
            store = provider()
        else:
            # Run through plain `scrapy crawl`: open the store the project settings name.
            from onionwatch.index.factory import open_store
            from onionwatch.settings import load_settings

            store = open_store(load_settings())
        return cls(
            _stats(crawler),
            store,
            crawl_id=settings.get("ONIONWATCH_CRAWL_ID") or uuid.uuid4().hex,
            owns_store=owns_store,
            baseline=settings.getbool("ONIONWATCH_BASELINE", False),
            batch_size=settings.getint("ONIONWATCH_STORE_BATCH_SIZE", 100),
            max_delay=settings.getfloat("ONIONWATCH_BATCH_MAX_DELAY", 0.5),
        )

    def _write(self, observations: Sequence[Observation]) -> Sequence[WriteResult]:
        result = self.store.write(observations, baseline=self.baseline)
        # The store reports per batch; hand the whole result to the first item, empty to the rest.
        empty = WriteResult(written=0, created=0, updated=0)
        return [result] + [empty] * (len(observations) - 1)

    def _write_vendor_pages(self, pages: Sequence[VendorPage]) -> Sequence[EnrichedVendorPage]:
        from onionwatch.extractors.supply import enrich_vendor_page

        enriched = [enrich_vendor_page(p) for p in pages]
        self.store.write_vendor_pages(enriched)
        return enriched

    async def _process_vendor_page(self, page: VendorPage) -> EnrichedVendorPage:
        try:
            enriched = await self._vendor_batcher.submit(page)
        except OnionwatchError as exc:
            self.stats.inc_value("vendor_page/dropped/store_failed")
            raise DropItem(f"store failed for vendor page {page.url}: {exc}") from exc
        self.stats.inc_value("vendor_page/stored")
        if enriched.wallets:
            self.stats.inc_value("vendor_page/with_wallet")
        if enriched.pgp_fingerprints:
            self.stats.inc_value("vendor_page/with_pgp")
        return enriched

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, VendorPage):
            return await self._process_vendor_page(item)
        if isinstance(item, Listing):
            item = EnrichedListing(listing=item)
        if not isinstance(item, EnrichedListing):
            return item
        # Observed when fetched (the archive's time), so a reparse rebuilds the same observation.
        observation = Observation(
            crawl_id=self.crawl_id,
            observed_at=item.listing.crawled_at,
            listing=item.listing,
            enrichment=item.enrichment,
        )
        try:
            result = await self._batcher.submit(observation)
        except StoreUnavailableError:
            # The store spooled the batch durably and replays it on its next write: not lost,
            # and not to be sent again from here (that would duplicate it).
            self.stats.inc_value("listing/spooled")
            return item
        except OnionwatchError as exc:
            self.stats.inc_value("listing/dropped/store_failed")
            raise DropItem(f"store failed for {item.listing.url}: {exc}") from exc
        self.stats.inc_value("listing/stored")
        if result.created:
            self.stats.inc_value("listing/created", result.created)
        for event in result.events:
            self.stats.inc_value(f"events/{event.kind.value}")
        return item

    async def close_spider(self) -> None:
        await self._batcher.drain()
        await self._vendor_batcher.drain()
        self._batcher.close()
        self._vendor_batcher.close()
        if self._owns_store:
            self.store.close()
