"""The store pipeline's translation of store failures (the stores themselves are tested for real
in tests/index; here a stand-in store raises the errors the real ones raise)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from onionwatch.crawler.pipelines import StorePipeline
from onionwatch.errors import StoreError, StoreUnavailableError
from onionwatch.models import Listing, Observation, WriteResult, utcnow


class _FailingStore:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def write(self, observations: Sequence[Observation], *, baseline: bool = False) -> WriteResult:
        raise self.error


def _listing() -> Listing:
    return Listing(
        market="m",
        listing_id="1",
        url="http://x.onion/1",
        title="t",
        crawled_at=utcnow(),
        page_sha256="0" * 64,
    )


def _run(error: Exception) -> tuple[object, dict[str, int]]:
    crawler = get_crawler()
    assert crawler.stats is not None
    crawler.stats.open_spider()

    async def main() -> object:
        pipeline = StorePipeline(
            crawler.stats,
            _FailingStore(error),
            crawl_id="c",
            owns_store=False,
            max_delay=0.01,  # type: ignore[arg-type]
        )
        try:
            return await pipeline.process_item(_listing())
        finally:
            await pipeline.close_spider()

    result = asyncio.run(main())
    return result, crawler.stats.get_stats()


def test_a_spooled_write_passes_the_item_and_is_counted_not_dropped() -> None:
    result, stats = _run(StoreUnavailableError("elasticsearch down; batch spooled"))
    assert result is not None
    assert stats.get("listing/spooled") == 1
    assert "listing/dropped/store_failed" not in stats


def test_a_failed_write_drops_the_item_with_a_counted_reason() -> None:
    with pytest.raises(DropItem, match="store failed"):
        _run(StoreError("disk full"))
