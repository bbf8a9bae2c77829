"""Tor going down mid-crawl: pause, keep every request, resume when Tor is back.

A failed download is ambiguous: the market may be down, or Tor itself. When Tor's SOCKS port no
longer accepts connections, the failure is Tor's: the request is put back in the queue (never
sent any other way: the Tor handler is the only one there is), the engine is paused, and the
SOCKS port is polled until it answers again. If Tor stays away longer than
``ONIONWATCH_TOR_OUTAGE_WAIT`` seconds, the spider closes with reason ``tor_unavailable``; the
queue, persisted in the job directory, is where the next run resumes.

This sits above the mirror and retry middlewares so that a Tor outage is never mistaken for a
dead mirror or spent on retries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from onionwatch.crawler.tor import parse_socks_address

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

CLOSE_REASON = "tor_unavailable"


async def socks_alive(host: str, port: int, timeout: float = 2.0) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


class TorOutageMiddleware:
    def __init__(self, crawler: Crawler, host: str, port: int, *, max_wait: float, poll: float) -> None:
        self.crawler = crawler
        self.host = host
        self.port = port
        self.max_wait = max_wait
        self.poll = poll
        self._waiting: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TorOutageMiddleware:
        address = crawler.settings.get("ONIONWATCH_TOR_SOCKS")
        if not address:
            raise NotConfigured("no Tor configured: nothing is fetched at all")
        host, port = parse_socks_address(str(address))
        return cls(
            crawler,
            host,
            port,
            max_wait=crawler.settings.getfloat("ONIONWATCH_TOR_OUTAGE_WAIT", 300.0),
            poll=crawler.settings.getfloat("ONIONWATCH_TOR_OUTAGE_POLL", 1.0),
        )

    def _inc(self, key: str) -> None:
        if self.crawler.stats is not None:
            self.crawler.stats.inc_value(key)

    async def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if self._waiting is None and await socks_alive(self.host, self.port):
            return None  # Tor is fine: the failure is the market's (mirrors, retries handle it)
        self._inc("tor/outage/requeued")
        if self._waiting is None:
            self._inc("tor/outage/paused")
            logger.warning(
                "Tor SOCKS %s:%s is down (%s); pausing the crawl, nothing is fetched until it is back",
                self.host,
                self.port,
                exception,
            )
            assert self.crawler.engine is not None
            self.crawler.engine.pause()
            self._waiting = asyncio.get_running_loop().create_task(self._wait_for_tor())
        # Back to the scheduler: it survives a pause, a close and (with a job dir) a restart.
        return request.replace(dont_filter=True)

    async def _wait_for_tor(self) -> None:
        engine = self.crawler.engine
        assert engine is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        try:
            while loop.time() < deadline:
                await asyncio.sleep(self.poll)
                if await socks_alive(self.host, self.port):
                    logger.warning("Tor SOCKS %s:%s is back; resuming the crawl", self.host, self.port)
                    self._inc("tor/outage/resumed")
                    engine.unpause()
                    return
            logger.error("Tor did not come back within %.0f s; stopping (the queue is kept)", self.max_wait)
            self._inc("tor/outage/gave_up")
            engine.unpause()
            await engine.close_spider_async(reason=CLOSE_REASON)
        finally:
            self._waiting = None
