"""Rebuild listings from the WARC archive without the network (after a parser or lexicon change).

Runs the same page objects and the same enrichment as a crawl, with each page's archived fetch
time and crawl id, so a reparse into an empty store reproduces what the crawl stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from onionwatch.crawler.archive import ArchivedPage, archive_files, read_archive
from onionwatch.crawler.engines import engine_pages
from onionwatch.crawler.pages.base import Page
from onionwatch.errors import ConfigError, PageError
from onionwatch.index.store import Store
from onionwatch.models import EnrichedListing, Listing, Observation


@dataclass
class ReparseReport:
    files: int = 0
    pages: int = 0
    listings: int = 0
    written: int = 0
    #: reason -> pages that gave no listing (navigation pages are "not_a_listing")
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def _listings(pages: Iterable[ArchivedPage], report: ReparseReport) -> Iterator[tuple[ArchivedPage, Listing]]:
    for archived in pages:
        report.pages += 1
        if archived.status != 200:
            report.skip(f"http_{archived.status}")
            continue
        if archived.engine is None:
            report.skip("unknown_engine")
            continue
        try:
            parse = engine_pages(archived.engine).listing
        except ConfigError:
            report.skip("unknown_engine")
            continue
        page = Page(
            url=archived.url,
            body=archived.body,
            market=archived.market,
            content_type=archived.content_type,
            crawled_at=archived.fetched_at,
        )
        try:
            listing = parse(page)
        except PageError:
            report.skip("not_a_listing")
            continue
        report.listings += 1
        yield archived, listing


def reparse(
    archive_dir: Path,
    store: Store,
    *,
    market: str | None = None,
    enrich: Callable[[Sequence[Listing]], Sequence[EnrichedListing]] | None = None,
    batch_size: int = 256,
) -> ReparseReport:
    report = ReparseReport()
    files = archive_files(archive_dir, market)
    report.files = len(files)

    def pages() -> Iterator[ArchivedPage]:
        for path in files:
            yield from read_archive(path)

    batch: list[tuple[ArchivedPage, Listing]] = []

    def flush() -> None:
        listings = [listing for _, listing in batch]
        enriched = enrich(listings) if enrich else [EnrichedListing(listing=item) for item in listings]
        observations = [
            Observation(
                crawl_id=archived.crawl_id or "reparse",
                observed_at=archived.fetched_at,
                listing=item.listing,
                enrichment=item.enrichment,
            )
            for (archived, _), item in zip(batch, enriched, strict=True)
        ]
        report.written += store.write(observations).written
        batch.clear()

    for pair in _listings(pages(), report):
        batch.append(pair)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    return report
