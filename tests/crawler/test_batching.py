"""The batcher that keeps spaCy and store writes off the reactor."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from onionwatch.crawler.batching import Batcher


def test_items_are_batched_and_answered_in_order() -> None:
    calls: list[tuple[list[int], str]] = []

    def double(items: Sequence[int]) -> list[int]:
        calls.append((list(items), threading.current_thread().name))
        return [i * 2 for i in items]

    async def main() -> list[int]:
        batcher: Batcher[int, int] = Batcher(double, size=4, max_delay=0.05)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(10)))
        await batcher.drain()
        batcher.close()
        return list(results)

    assert asyncio.run(main()) == [i * 2 for i in range(10)]
    assert [len(items) for items, _ in calls] == [4, 4, 2]  # the last two wait for max_delay
    assert all(name.startswith("onionwatch-batch") for _, name in calls)  # never on the loop thread


def test_a_failing_batch_fails_each_of_its_items_and_not_the_next_batch() -> None:
    def fragile(items: Sequence[int]) -> list[int]:
        if 3 in items:
            raise ValueError("bad batch")
        return list(items)

    async def main() -> list[object]:
        batcher: Batcher[int, int] = Batcher(fragile, size=2, max_delay=0.05)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
        batcher.close()
        return list(results)

    results = asyncio.run(main())
    assert results[0:2] == [0, 1]
    assert all(isinstance(r, ValueError) for r in results[2:4])
    assert results[4:6] == [4, 5]


def test_wrong_result_count_is_an_error() -> None:
    async def main() -> None:
        batcher: Batcher[int, int] = Batcher(lambda items: [], size=1)
        try:
            await batcher.submit(1)
        finally:
            batcher.close()

    with pytest.raises(RuntimeError, match="returned 0 results for 1 items"):
        asyncio.run(main())


def test_retry_backoff_grows_exponentially_and_waits_without_blocking() -> None:
    import time

    from scrapy import Request
    from scrapy.utils.test import get_crawler

    from onionwatch.crawler.middlewares import BackoffMiddleware

    crawler = get_crawler(
        settings_dict={"ONIONWATCH_RETRY_BACKOFF_BASE": 0.2, "ONIONWATCH_RETRY_BACKOFF_CAP": 0.5}
    )
    crawler.stats.open_spider()  # type: ignore[union-attr]
    mw = BackoffMiddleware.from_crawler(crawler)
    assert [mw.delay(n) for n in range(5)] == [0.0, 0.2, 0.4, 0.5, 0.5]

    async def main() -> float:
        started = time.monotonic()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        await mw.process_request(Request("http://x.onion/", meta={"retry_times": 2}))
        task.cancel()
        assert ticks > 10  # the loop kept running while this request waited
        return time.monotonic() - started

    assert asyncio.run(main()) >= 0.4
    assert crawler.stats.get_value("retry/backoff_waits") == 1  # type: ignore[union-attr]
