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
from onionwatch.models import EnrichedListing, Listing, Observation, WriteResult

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

    def __init__(self, stats: StatsCollector, *, batch_size: int = 64, max_delay: float = 0.5) -> None:
        self.stats = stats
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
        )

    @staticmethod
    def _enrich(listings: Sequence[Listing]) -> Sequence[EnrichedListing]:
        from onionwatch.extractors import enrich  # spaCy loads in the worker, not at import

        return enrich(listings)

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
    """Writes each (enriched) listing as an observation; counts the events the store reports."""

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

    async def process_item(self, item: Any) -> Any:
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
        self._batcher.close()
        if self._owns_store:
            self.store.close()
