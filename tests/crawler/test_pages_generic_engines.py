"""The generic extractor (no per-market code) on every simulated engine's listing pages.

Each engine is a different layout and URL scheme; a market without a page object is read by the
generic extractor, so it must get the fields analysts search by (title, price as shown with its
currency, vendor) right on all of them, not just on the one it was written against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest

from onionwatch.crawler.pages.base import Page
from onionwatch.crawler.pages.generic import extract_listing
from onionwatch.lab.market.catalogue import ListingTruth, PriceTier, generate
from onionwatch.lab.market.engines import ENGINES, BazaarEngine, MarketEngine
from onionwatch.lab.market.engines.kraken import listing_path

LISTING_PATHS: dict[str, Callable[[ListingTruth], str]] = {
    "nightshade": lambda t: f"/item/{t.listing_id}",
    "bazaar": lambda t: f"/index.php?page=listing&id={t.listing_id}",
    "kraken": listing_path,
}


def _page(engine: MarketEngine, truth: ListingTruth) -> Page:
    url = f"http://{engine.name}exampleexampleexampleexampleexampleexample.onion{LISTING_PATHS[engine.name](truth)}"
    parts = urlsplit(url)
    rendered = engine.render(parts.path, parse_qs(parts.query))
    assert rendered.status == 200
    return Page(
        url=url, body=rendered.body.encode(), market=engine.name, content_type="text/html; charset=utf-8"
    )


def _engine(name: str) -> MarketEngine:
    engine_type = ENGINES[name]
    return engine_type(generate(name, seed=11, listings=60, currencies=engine_type.currencies))


def test_every_engine_has_listing_urls_here() -> None:
    assert set(LISTING_PATHS) == set(ENGINES)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_generic_extractor_reads_title_price_and_vendor(name: str) -> None:
    engine = _engine(name)
    wrong: dict[str, list[str]] = {"title": [], "price": [], "vendor": [], "ships_from": []}
    for truth in engine.catalogue.listings:
        listing = extract_listing(_page(engine, truth))
        if listing.title != truth.title:
            wrong["title"].append(f"{truth.listing_id}: {listing.title!r}")
        shown = None if listing.price is None else (listing.price.amount, listing.price.currency)
        if shown != (truth.price_shown, truth.currency):
            wrong["price"].append(f"{truth.listing_id}: {shown} != {truth.price_shown} {truth.currency}")
        if listing.vendor != truth.vendor:
            wrong["vendor"].append(f"{truth.listing_id}: {listing.vendor!r}")
        if listing.ships_from != truth.ships_from:
            wrong["ships_from"].append(f"{truth.listing_id}: {listing.ships_from!r}")
    assert {field: ids for field, ids in wrong.items() if ids} == {}


def test_generic_extractor_reads_continental_euro_amounts() -> None:
    engine = _engine("bazaar")
    base = next(t for t in engine.catalogue.listings if t.currency == "EUR")
    pricey = replace(base, tiers=(PriceTier(Decimal(100), "unit", Decimal("2712.50")), *base.tiers[1:]))
    engine = BazaarEngine(replace(engine.catalogue, listings=(pricey,)))
    listing = extract_listing(_page(engine, pricey))
    assert listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (Decimal("2500.00"), "EUR")


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_page_objects_and_generic_keep_the_markets_displayed_rates(name: str) -> None:
    from onionwatch.crawler.engines import engine_pages
    from onionwatch.lab.market.catalogue import BTC_USD, XMR_USD

    engine = _engine(name)
    page = _page(engine, engine.catalogue.listings[0])
    shown = {
        "nightshade": {"BTC": BTC_USD, "XMR": XMR_USD},
        "bazaar": {"BTC": BTC_USD},
        "kraken": {"XMR": XMR_USD},
    }
    for listing in (engine_pages(name).listing(page), extract_listing(page)):
        assert {coin: rates["USD"] for coin, rates in listing.exchange_rates.items()} == shown[name]
