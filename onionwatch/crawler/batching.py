"""Run blocking batch work (spaCy, store writes) off the reactor, one batch at a time.

Items arrive one by one from Scrapy; spaCy and the stores are much faster per item in batches,
and both block. A :class:`Batcher` collects items until ``size`` or ``max_delay`` seconds, runs the
batch function in its own worker thread, and resolves each item's awaitable with its result (or
the batch's exception, so no item silently disappears).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Batcher(Generic[T, R]):
    def __init__(
        self,
        fn: Callable[[Sequence[T]], Sequence[R]],
        *,
        size: int = 64,
        max_delay: float = 0.5,
        name: str = "batch",
    ) -> None:
        self._fn = fn
        self._size = size
        self._max_delay = max_delay
        # One worker: the batch functions own non-thread-safe state (an nlp object, a connection).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"onionwatch-{name}")
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if len(self._pending) >= self._size:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._max_delay, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        items = [item for item, _ in batch]
        try:
            results = await asyncio.get_running_loop().run_in_executor(self._executor, self._fn, items)
            if len(results) != len(items):
                raise RuntimeError(f"batch function returned {len(results)} results for {len(items)} items")
        except Exception as exc:  # handed to every waiting item, which reports it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def drain(self) -> None:
        """Flush what is pending and wait for every running batch (call when the spider closes)."""
        self._flush()
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
