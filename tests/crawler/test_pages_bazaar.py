"""Golden tests of the Bazaar page objects on pages rendered from a seeded catalogue."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from onionwatch.crawler.pages import bazaar
from onionwatch.crawler.pages.base import Page
from onionwatch.errors import PageError
from onionwatch.lab.market.catalogue import ListingTruth, PriceTier, evolve, generate
from onionwatch.lab.market.engines import BazaarEngine

CATALOGUE = generate("bazaar", seed=3, listings=40, currencies=BazaarEngine.currencies)
ENGINE = BazaarEngine(CATALOGUE)
BASE = "http://bazaarexampleexampleexampleexampleexampleexampleexample.onion"


def _get(url: str, engine: BazaarEngine = ENGINE) -> Page:
    parts = urlsplit(url)
    rendered = engine.render(parts.path or "/", parse_qs(parts.query))
    return Page(
        url=url, body=rendered.body.encode(), market="bazaar", content_type="text/html; charset=utf-8"
    )


def _listing_url(listing_id: str) -> str:
    return f"{BASE}/index.php?page=listing&id={listing_id}"


def test_catalogue_prices_in_both_currencies() -> None:
    # Otherwise half of the price notation below would go untested.
    assert {t.currency for t in CATALOGUE.listings} == {"EUR", "BTC"}


@pytest.mark.parametrize("truth", CATALOGUE.listings, ids=lambda t: f"{t.listing_id}-{t.currency}")
def test_listing_page_matches_ground_truth(truth: ListingTruth) -> None:
    listing = bazaar.parse_listing(_get(_listing_url(truth.listing_id)))
    assert listing.listing_id == truth.listing_id
    assert listing.title == truth.title
    assert listing.vendor == truth.vendor
    assert listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (truth.price_shown, truth.currency)
    assert listing.ships_from == truth.ships_from
    assert listing.ships_to == truth.ships_to
    assert listing.category == truth.category
    assert listing.stock == truth.stock
    assert listing.description == truth.description.replace("\n\n", "\n")
    assert listing.price_text is not None and len(listing.price_text.split(" / ")) == len(truth.tiers)


def test_btc_price_keeps_the_coin_amount_not_the_dollar_hint() -> None:
    truth = next(t for t in CATALOGUE.listings if t.currency == "BTC")
    listing = bazaar.parse_listing(_get(_listing_url(truth.listing_id)))
    assert listing.price is not None
    assert listing.price.raw == f"{format(truth.price_shown, 'f')} BTC"
    assert f"${truth.price_usd}" in _get(_listing_url(truth.listing_id)).text


def test_euro_amounts_over_a_thousand_use_continental_grouping() -> None:
    base = next(t for t in CATALOGUE.listings if t.currency == "EUR")
    pricey = replace(base, tiers=(PriceTier(Decimal(100), "unit", Decimal("2712.50")), *base.tiers[1:]))
    catalogue = replace(CATALOGUE, listings=(pricey,))
    page = _get(_listing_url(pricey.listing_id), BazaarEngine(catalogue))
    assert "2.500,00 €" in page.text  # 2712.50 USD at 1.085 USD/EUR
    listing = bazaar.parse_listing(page)
    assert listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (Decimal("2500.00"), "EUR")
    assert pricey.price_shown == Decimal("2500.00")


def test_category_pages_reach_every_listing() -> None:
    home = bazaar.parse_home(_get(BASE + "/"))
    assert all("page=cat" in url for url in home)
    seen: list[str] = []
    pages = 0
    for url in home:
        next_url: str | None = url
        while next_url is not None:
            page = bazaar.parse_category(_get(next_url))
            seen.extend(parse_qs(urlsplit(u).query)["id"][0] for u in page.listing_urls)
            next_url, pages = page.next_url, pages + 1
    assert sorted(seen) == sorted(t.listing_id for t in CATALOGUE.listings)
    assert pages > len(home)  # some category spans several numbered pages
    assert len(home) == len({t.category for t in CATALOGUE.listings})


def test_numbered_pagination_follows_the_current_page() -> None:
    opioids = next(u for u in bazaar.parse_home(_get(BASE + "/")) if "c=5" in u)
    second = bazaar.parse_category(_get(opioids + "&p=2"))
    assert second.next_url is not None and second.next_url.endswith("&p=3")
    last = bazaar.parse_category(_get(opioids + "&p=3"))
    assert last.next_url is None


def test_listing_parser_refuses_other_pages() -> None:
    with pytest.raises(PageError, match="not a Bazaar listing page"):
        bazaar.parse_listing(_get(BASE + "/"))
    vendor = CATALOGUE.listings[0].vendor
    with pytest.raises(PageError, match="not a Bazaar listing page"):
        bazaar.parse_listing(_get(f"{BASE}/index.php?page=vendor&name={vendor}"))
    with pytest.raises(PageError, match="not a Bazaar listing page"):
        bazaar.parse_listing(_get(_listing_url("does-not-exist")))


def test_category_parser_refuses_other_pages() -> None:
    with pytest.raises(PageError, match="not a Bazaar category page"):
        bazaar.parse_category(_get(BASE + "/index.php"))
    with pytest.raises(PageError, match="not a Bazaar category page"):
        bazaar.parse_category(_get(_listing_url(CATALOGUE.listings[0].listing_id)))


def test_unknown_pages_are_404s() -> None:
    for path, query in (("/item/1", {}), ("/index.php", {"page": ["cat"], "c": ["99"]})):
        assert ENGINE.render(path, query).status == 404
    assert ENGINE.render("/index.php", {"page": ["cat"], "c": ["1"], "p": ["9"]}).status == 404


def test_vendor_page_lists_exactly_the_vendors_listings() -> None:
    vendor = CATALOGUE.vendors[0].handle
    page = _get(f"{BASE}/index.php?page=vendor&name={vendor}")
    ids = {
        parse_qs(urlsplit(h).query)["id"][0]
        for h in page.selector.css("table.vendor-listings a::attr(href)").getall()
    }
    assert ids == {t.listing_id for t in CATALOGUE.listings if t.vendor == vendor} != set()


def test_a_later_epoch_still_parses_to_its_truth() -> None:
    # Price cuts and new listings keep each listing's own currency, so the truth stays "as shown".
    later = evolve(CATALOGUE, 2)
    assert later.currencies == CATALOGUE.currencies
    assert {t.currency for t in later.listings} <= {"EUR", "BTC"}
    engine = BazaarEngine(later)
    for truth in later.listings:
        listing = bazaar.parse_listing(_get(_listing_url(truth.listing_id), engine))
        assert listing.price is not None
        assert (listing.title, listing.vendor, listing.price.amount, listing.price.currency) == (
            truth.title,
            truth.vendor,
            truth.price_shown,
            truth.currency,
        )
