"""One crawl of a market behind access control, with a session directory and the market's account.

A child process per crawl (Twisted's reactor starts once per process). Until the CLI passes
sessions and accounts to the crawler, this is how tests give them: the account comes from a file the
lab wrote (like an operator's secrets file), never from the test's source.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from onionwatch.crawler.run import CrawlTarget, crawl
from onionwatch.crawler.sessions import read_account_file
from onionwatch.index.sqlite import SqliteStore
from onionwatch.settings import load_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--market", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--socks", required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--sessions", type=Path, required=True)
    parser.add_argument("--account-file", type=Path)
    parser.add_argument("--archive", type=Path)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    logins = {}
    if args.account_file:
        account = read_account_file(args.account_file)
        logins[args.market] = {"username": account.username, "password": account.password}
    settings = load_settings(
        data_dir=args.data_dir, crawl={"enrich": False, "download_timeout": 30, "archive": False}
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
                "ONIONWATCH_SESSIONS_DIR": str(args.sessions),
                "ONIONWATCH_LOGINS": logins,
                "ONIONWATCH_ARCHIVE_DIR": str(args.archive) if args.archive else None,
                "RETRY_TIMES": 1,
                "LOG_LEVEL": "DEBUG",  # the tests check no secret reaches even debug lines
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
