"""Golden tests of the Kraken page objects on pages rendered from a seeded catalogue."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from onionwatch.crawler.pages import kraken
from onionwatch.crawler.pages.base import Page
from onionwatch.errors import PageError
from onionwatch.lab.market.catalogue import ListingTruth, evolve, generate
from onionwatch.lab.market.engines import KrakenEngine
from onionwatch.lab.market.engines.base import fmt_qty
from onionwatch.lab.market.engines.kraken import listing_path, markdownish

CATALOGUE = generate("kraken", seed=3, listings=40, currencies=KrakenEngine.currencies)
ENGINE = KrakenEngine(CATALOGUE)
BASE = "http://krakenexampleexampleexampleexampleexampleexampleexample.onion"


def _get(url: str) -> Page:
    rendered = ENGINE.render(urlsplit(url).path or "/", {})
    return Page(
        url=url, body=rendered.body.encode(), market="kraken", content_type="text/html; charset=utf-8"
    )


@pytest.mark.parametrize("truth", CATALOGUE.listings, ids=lambda t: t.listing_id)
def test_listing_page_matches_ground_truth(truth: ListingTruth) -> None:
    listing = kraken.parse_listing(_get(BASE + listing_path(truth)))
    assert listing.listing_id == truth.listing_id
    assert listing.title == truth.title
    assert listing.vendor == truth.vendor
    assert listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (truth.price_shown, "USD")
    assert truth.currency == "USD"
    assert listing.ships_from == truth.ships_from
    assert listing.ships_to == truth.ships_to
    assert listing.category == truth.category
    assert listing.stock == truth.stock
    # the vendor's text as typed (markdown markers and blank lines kept)
    assert listing.description == markdownish(truth.description)
    assert listing.price_text == " / ".join(f"{fmt_qty(t)} — ${t.usd}" for t in truth.tiers)


def test_headline_price_ignores_the_monero_hint() -> None:
    truth = CATALOGUE.listings[0]
    page = _get(BASE + listing_path(truth))
    assert "XMR" in page.text
    listing = kraken.parse_listing(page)
    assert listing.price is not None and listing.price.raw == f"${truth.price_usd}"


def test_the_slug_is_decoration_the_id_names_the_listing() -> None:
    truth = CATALOGUE.listings[3]
    listing = kraken.parse_listing(_get(f"{BASE}/listing/old-title-{truth.listing_id}"))
    assert listing.listing_id == truth.listing_id


def test_category_pages_reach_every_listing() -> None:
    home = kraken.parse_home(_get(BASE + "/"))
    assert all("/category/" in url for url in home)
    seen: list[str] = []
    pages = 0
    for url in home:
        next_url: str | None = url
        while next_url is not None:
            page = kraken.parse_category(_get(next_url))
            seen.extend(u.rsplit("-", 1)[1] for u in page.listing_urls)
            next_url, pages = page.next_url, pages + 1
            assert next_url is None or "/page/" in next_url
    assert sorted(seen) == sorted(t.listing_id for t in CATALOGUE.listings)
    assert pages > len(home)
    assert len(home) == len({t.category for t in CATALOGUE.listings})


def test_listing_parser_refuses_other_pages() -> None:
    truth = CATALOGUE.listings[0]
    for url in (
        BASE + "/",
        f"{BASE}/shop/{truth.vendor}",
        f"{BASE}/listing/gone-999999",
        BASE + "/category/opioids",
    ):
        with pytest.raises(PageError, match="not a Kraken listing page"):
            kraken.parse_listing(_get(url))


def test_category_parser_refuses_other_pages() -> None:
    truth = CATALOGUE.listings[0]
    # the shop page lists cards too, but it is no category (crawling it would double-count)
    for url in (BASE + "/", f"{BASE}/shop/{truth.vendor}", BASE + listing_path(truth)):
        with pytest.raises(PageError, match="not a Kraken category page"):
            kraken.parse_category(_get(url))


def test_unknown_pages_are_404s() -> None:
    for path in ("/category/opioids/page/99", "/category/nope", "/listing/x-1", "/shop/nobody", "/c/opioids"):
        assert ENGINE.render(path, {}).status == 404
    assert ENGINE.render("/category/opioids/page/2", {}).status == 200


def test_shop_page_lists_exactly_the_vendors_listings() -> None:
    vendor = CATALOGUE.vendors[0].handle
    page = _get(f"{BASE}/shop/{vendor}")
    ids = set(page.selector.css("section.grid[data-shop] article.card::attr(data-listing-id)").getall())
    assert ids == {t.listing_id for t in CATALOGUE.listings if t.vendor == vendor} != set()


def test_a_later_epoch_still_parses_to_its_truth() -> None:
    later = evolve(CATALOGUE, 1)
    engine = KrakenEngine(later)
    for truth in later.listings:
        rendered = engine.render(listing_path(truth), {})
        listing = kraken.parse_listing(
            Page(url=BASE + listing_path(truth), body=rendered.body.encode(), market="kraken")
        )
        assert listing.price is not None
        assert (listing.title, listing.vendor, listing.price.amount) == (
            truth.title,
            truth.vendor,
            truth.price_shown,
        )
