"""Fetch URLs with onionwatch's Scrapy configuration and print what happened to each, as JSON.

A child process per run (Twisted's reactor starts once per process). Used by the safety tests:
size caps, decompression bombs and the text-only policy.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from twisted.python.failure import Failure

from onionwatch.crawler.addon import OnionwatchAddon

RESULTS: dict[str, Any] = {}


class FetchSpider(Spider):
    name = "fetch"

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.urls = urls

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(url, callback=self.ok, errback=self.failed, dont_filter=True)

    def ok(self, response: Response) -> None:
        RESULTS[response.url] = {"ok": True, "bytes": len(response.body)}

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]
        RESULTS[request.url] = {
            "ok": False,
            "error": type(failure.value).__name__,
            "message": str(failure.value),
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--socks", required=True)
    parser.add_argument("--maxsize", type=int, default=1024 * 1024)
    parser.add_argument("--denylist", default=None)
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    process = CrawlerProcess(
        {
            "ADDONS": {OnionwatchAddon: 0},
            "ONIONWATCH_TOR_SOCKS": args.socks,
            "ONIONWATCH_ENRICH_ENABLED": False,
            "ITEM_PIPELINES": {},
            "DOWNLOAD_MAXSIZE": args.maxsize,
            "DOWNLOAD_WARNSIZE": 0,
            "RETRY_ENABLED": False,
            "ONIONWATCH_DENYLIST": args.denylist,
            "LOG_LEVEL": "ERROR",
        }
    )
    crawler = process.create_crawler(FetchSpider)
    process.crawl(crawler, urls=args.urls)
    process.start()
    assert crawler.stats is not None
    stats = {k: v for k, v in crawler.stats.get_stats().items() if isinstance(v, int)}
    print(json.dumps({"results": RESULTS, "stats": stats}))


if __name__ == "__main__":
    main()
