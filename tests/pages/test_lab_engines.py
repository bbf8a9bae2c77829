"""The generic extractor and kind detection on the lab's simulated markets, rendered in process (no
Tor): three layouts written independently of these rules, with their truth."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from parsel import Selector

from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pages.generic import extract_listing
from onionwatch.crawler.pages.kind import detect_kind
from onionwatch.extractors import enrich
from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.engines import ENGINES
from onionwatch.models import PageKind


def crawl(name: str) -> list[tuple[str, Page]]:
    engine_cls = ENGINES[name]
    engine = engine_cls(generate(name, listings=40, currencies=engine_cls.currencies))
    seen: set[str] = set()
    queue = ["/"]
    pages = []
    while queue and len(seen) < 400:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        parts = urlsplit(url)
        rendered = engine.render(parts.path, parse_qs(parts.query))
        pages.append(
            (
                url,
                Page(
                    url=f"http://{name}.onion{url}",
                    body=rendered.body.encode(),
                    market=name,
                    content_type="text/html; charset=utf-8",
                ),
            )
        )
        for href in Selector(text=rendered.body).css("a::attr(href)").getall():
            target = urlsplit(urljoin(url, href))
            path = target.path + (f"?{target.query}" if target.query else "")
            if path.startswith("/") and path not in seen:
                queue.append(path)
    return pages


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_listing_page_is_found_and_read(name: str) -> None:
    catalogue = generate(name, listings=40, currencies=ENGINES[name].currencies)
    truth = {item.listing_id: item for item in catalogue.listings}
    listings = []
    for url, page in crawl(name):
        kind = detect_kind(page)
        ids = [i for i in truth if url.rstrip("/").endswith(i) or f"id={i}" in url or f"/{i}" in url]
        if kind is PageKind.LISTING:
            assert ids, f"{url} detected as a listing"
            listings.append((truth[ids[0]], extract_listing(page)))
    assert len(listings) == len(truth)
    enriched = enrich([listing for _, listing in listings])
    for (item, listing), e in zip(listings, enriched, strict=True):
        assert listing.title == item.title
        assert listing.vendor == item.vendor
        assert listing.price is not None and listing.price.currency == item.currency
        assert listing.ships_from == item.ships_from
        assert e.enrichment.fentanyl_class == item.fentanyl_class, item.title
        assert item.substance in e.enrichment.substances, item.title


#: URL shape of each lab page -> its kind in the corpus's terms (a category result list is "search";
#: a market's front page may be "search" or "other", as main_page/category_index are in the corpus)
LAB_KINDS: dict[str, list[tuple[str, frozenset[PageKind]]]] = {
    "nightshade": [
        (r"/item/", frozenset({PageKind.LISTING})),
        (r"/u/", frozenset({PageKind.VENDOR})),
        (r"/c/", frozenset({PageKind.SEARCH})),
    ],
    "bazaar": [
        (r"page=listing", frozenset({PageKind.LISTING})),
        (r"page=vendor", frozenset({PageKind.VENDOR})),
        (r"page=cat", frozenset({PageKind.SEARCH})),
    ],
    "kraken": [
        (r"/listing/", frozenset({PageKind.LISTING})),
        (r"/shop/", frozenset({PageKind.VENDOR})),
        (r"/category/", frozenset({PageKind.SEARCH})),
    ],
}
FRONT_PAGE = frozenset({PageKind.SEARCH, PageKind.OTHER})


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_lab_page_kind(name: str) -> None:
    assert set(LAB_KINDS) == set(ENGINES)
    wrong = []
    checked = 0
    for url, page in crawl(name):
        path = urlsplit(url).path
        wanted = FRONT_PAGE if path in ("/", "/index.php") and "page=" not in url else None
        for pattern, kinds in LAB_KINDS[name]:
            if re.search(pattern, url):
                wanted = kinds
        if wanted is None:
            continue
        checked += 1
        if detect_kind(page) not in wanted:
            wrong.append(f"{url}: {detect_kind(page)}")
    assert checked > 40
    assert wrong == []
