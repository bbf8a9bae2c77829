"""The spider's vendor step, with responses rendered by the lab's engines (no network): a listing
leads to its vendor's profile, the profile becomes a VendorPage, and nothing else is fetched (no
avatar, no image). The pipelines pass a VendorPage through without touching their listing stats."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from onionwatch.crawler.pipelines import EnrichPipeline, StorePipeline
from onionwatch.crawler.spiders.market import MarketSpider
from onionwatch.extractors.entities import find_pgp_keys
from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.engines import ENGINES
from onionwatch.lab.market.engines.kraken import listing_path
from onionwatch.lab.market.supply import SUPPLY_MARKETS, with_supply_chain
from onionwatch.models import EnrichedVendorPage, Listing, Observation, VendorPage, WriteResult

BASE = "http://spidervendorsexampleexampleexampleexampleexampleexampleexampl.onion"


def _spider(name: str) -> MarketSpider:
    crawler = get_crawler(MarketSpider)
    assert crawler.stats is not None
    crawler.stats.open_spider()
    spider: MarketSpider = MarketSpider.from_crawler(crawler, market=name, start_url=f"{BASE}/", engine=name)
    return spider


def _response(name: str, url: str) -> HtmlResponse:
    catalogue = with_supply_chain(generate(name, listings=20, currencies=ENGINES[name].currencies))
    parts = urlsplit(url)
    body = ENGINES[name](catalogue).render(parts.path, parse_qs(parts.query)).body
    request = Request(url)
    return HtmlResponse(
        url, body=body.encode(), request=request, headers={"Content-Type": "text/html; charset=utf-8"}
    )


def _listing_url(name: str) -> str:
    catalogue = with_supply_chain(generate(name, listings=20, currencies=ENGINES[name].currencies))
    item = next(i for i in catalogue.listings if i.listing_category == "precursors")
    if name == "nightshade":
        return f"{BASE}/item/{item.listing_id}"
    if name == "bazaar":
        return f"{BASE}/index.php?page=listing&id={item.listing_id}"
    return BASE + listing_path(item)


@pytest.mark.parametrize("name", SUPPLY_MARKETS)
def test_a_listing_yields_itself_then_one_request_for_its_vendor(name: str) -> None:
    spider = _spider(name)
    out = list(spider.parse_listing(_response(name, _listing_url(name))))
    assert [type(o) for o in out] == [Listing, Request]
    listing, request = out
    assert isinstance(listing, Listing) and isinstance(request, Request)
    assert request.callback == spider.parse_vendor
    assert request.meta["market"] == name and request.meta["engine"] == name
    assert listing.vendor is not None and listing.vendor in request.url

    vendor_out = list(spider.parse_vendor(_response(name, request.url)))
    assert len(vendor_out) == 1
    vendor = vendor_out[0]
    assert isinstance(vendor, VendorPage)
    assert vendor.handle == listing.vendor
    assert spider.crawler.stats is not None
    assert spider.crawler.stats.get_value("vendor/pages") == 1


def test_a_profile_is_a_leaf_its_avatar_is_never_requested() -> None:
    spider = _spider("nightshade")
    response = _response("nightshade", f"{BASE}/u/CheMaster")
    assert b'<img class="avatar"' in response.body  # the page does show one
    out = list(spider.parse_vendor(response))
    assert all(isinstance(o, VendorPage) for o in out) and len(out) == 1
    assert find_pgp_keys(out[0].text)


def test_a_wall_instead_of_a_profile_is_counted_not_yielded() -> None:
    spider = _spider("kraken")
    out = list(spider.parse_vendor(_response("kraken", f"{BASE}/")))
    assert out == []
    assert spider.crawler.stats is not None
    assert spider.crawler.stats.get_value("vendor/dropped/not_a_vendor") == 1


def test_the_vendors_requests_go_through_the_duplicate_filter() -> None:
    # Many listings, one vendor: the requests are alike, so Scrapy's dupefilter fetches one.
    from scrapy.utils.request import RequestFingerprinter

    spider = _spider("nightshade")
    catalogue = with_supply_chain(generate("nightshade", listings=20))
    fingerprints = set()
    items = [i for i in catalogue.listings if i.vendor == "CheMaster"]
    assert len(items) > 1
    for item in items:
        out = list(spider.parse_listing(_response("nightshade", f"{BASE}/item/{item.listing_id}")))
        request = out[-1]
        assert isinstance(request, Request) and not request.dont_filter
        fingerprints.add(RequestFingerprinter().fingerprint(request))
    assert len(fingerprints) == 1


class _Store:
    def __init__(self) -> None:
        self.written: list[Observation] = []
        self.vendor_pages: list[EnrichedVendorPage] = []

    def write(self, observations: Sequence[Observation], *, baseline: bool = False) -> WriteResult:
        self.written.extend(observations)
        return WriteResult(written=len(observations), created=0, updated=0)

    def write_vendor_pages(self, pages: Sequence[EnrichedVendorPage]) -> int:
        self.vendor_pages.extend(pages)
        return len(pages)


def test_the_pipelines_store_a_vendor_page_as_a_vendor_page_not_a_listing() -> None:
    spider = _spider("nightshade")
    vendor = next(iter(spider.parse_vendor(_response("nightshade", f"{BASE}/u/CheMaster"))))
    crawler = get_crawler()
    assert crawler.stats is not None
    crawler.stats.open_spider()
    store = _Store()

    async def main() -> object:
        enrich = EnrichPipeline(crawler.stats, max_delay=0.01)  # type: ignore[arg-type]
        stored = StorePipeline(crawler.stats, store, crawl_id="c", owns_store=False, max_delay=0.01)  # type: ignore[arg-type]
        try:
            return await stored.process_item(await enrich.process_item(vendor))
        finally:
            await enrich.close_spider()
            await stored.close_spider()

    result = asyncio.run(main())
    assert isinstance(result, EnrichedVendorPage) and result.page == vendor
    assert store.written == [] and store.vendor_pages == [result]
    assert result.pgp_fingerprints  # CheMaster's profile shows its key
    stats = crawler.stats.get_stats()
    assert stats.get("vendor_page/stored") == 1 and stats.get("vendor_page/with_pgp") == 1
    assert not any(key.startswith("listing/") for key in stats)
