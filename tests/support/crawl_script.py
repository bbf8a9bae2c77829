"""Run one crawl with the library runner (no CLI pre-flight check) and print its report as JSON.

Used by fail-closed tests: they must prove the download handler itself refuses to go around Tor,
not merely that the CLI checks the SOCKS port first.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from onionwatch.crawler.run import CrawlTarget, crawl
from onionwatch.index.sqlite import SqliteStore
from onionwatch.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--market", default="nightshade")
    parser.add_argument("--url", required=True)
    parser.add_argument("--socks", default="")
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--enrich", action="store_true")
    args = parser.parse_args()
    settings = load_settings(
        data_dir=args.store.parent, crawl={"enrich": args.enrich, "download_timeout": 10}
    )
    store = SqliteStore(args.store)
    store.setup()
    try:
        report = crawl(
            [CrawlTarget(args.market, args.url)],
            settings=settings,
            socks=args.socks,
            store=store,
            extra_settings={
                "RETRY_TIMES": 1,
                "ONIONWATCH_TOR_OUTAGE_WAIT": 3,
                "ONIONWATCH_TOR_OUTAGE_POLL": 0.5,
            },
        )
    finally:
        store.close()
    market = report.markets[0]
    print(
        json.dumps(
            {
                "finish_reason": market.finish_reason,
                "stored": market.listings_stored,
                "errors": market.errors,
                "stats": {k: str(v) for k, v in market.stats.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
