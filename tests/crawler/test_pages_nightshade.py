"""Golden tests of the Nightshade page objects on pages rendered from a seeded catalogue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from onionwatch.crawler.pages import nightshade
from onionwatch.crawler.pages.base import Page
from onionwatch.errors import PageError
from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.engines import NightshadeEngine, slug

CATALOGUE = generate("nightshade", seed=3, listings=40)
ENGINE = NightshadeEngine(CATALOGUE)
BASE = "http://nightshadeexampleexampleexampleexampleexampleexampleexample.onion"


def _page(path: str, query: dict[str, list[str]] | None = None) -> Page:
    rendered = ENGINE.render(path, query or {})
    return Page(url=BASE + path, body=rendered.body.encode(), market="nightshade")


@pytest.mark.parametrize("truth", CATALOGUE.listings, ids=lambda t: t.listing_id)
def test_listing_page_matches_ground_truth(truth: object) -> None:
    from onionwatch.lab.market.catalogue import ListingTruth

    assert isinstance(truth, ListingTruth)
    listing = nightshade.parse_listing(_page(f"/item/{truth.listing_id}"))
    assert listing.listing_id == truth.listing_id
    assert listing.title == truth.title
    assert listing.vendor == truth.vendor
    assert listing.price is not None
    assert (listing.price.amount, listing.price.currency) == (truth.price_usd, "USD")
    assert listing.ships_from == truth.ships_from
    assert listing.ships_to == truth.ships_to
    assert listing.category == truth.category
    assert listing.stock == truth.stock
    assert listing.description is not None and listing.description.replace(
        "\n", " "
    ) in truth.description.replace("\n\n", "\n").replace("\n", " ")
    assert listing.price_text is not None and f"${truth.tiers[-1].usd}" in listing.price_text


def test_category_pages_reach_every_listing() -> None:
    home = nightshade.parse_home(_page("/"))
    seen: list[str] = []
    for url in home:
        path = url.removeprefix(BASE)
        query: dict[str, list[str]] = {}
        while True:
            page = nightshade.parse_category(_page(path, query))
            seen.extend(u.rsplit("/", 1)[1] for u in page.listing_urls)
            if page.next_url is None:
                break
            path, _, qs = page.next_url.removeprefix(BASE).partition("?")
            query = {"page": [qs.split("=")[1]]}
    assert sorted(seen) == sorted(t.listing_id for t in CATALOGUE.listings)
    assert len(home) == len({slug(t.category) for t in CATALOGUE.listings})


def test_listing_parser_refuses_other_pages() -> None:
    with pytest.raises(PageError, match="not a Nightshade listing page"):
        nightshade.parse_listing(_page("/"))
    with pytest.raises(PageError):
        nightshade.parse_listing(_page("/item/does-not-exist"))


def test_malformed_html_is_a_clear_page_error() -> None:
    broken = Page(
        url=BASE + "/item/1", body=b"<div class='product'><h1 class='product-title'>\x00\xff", market="n"
    )
    with pytest.raises(PageError, match="without title or id"):
        nightshade.parse_listing(broken)


def test_headline_price_keeps_raw_text() -> None:
    truth = CATALOGUE.listings[0]
    listing = nightshade.parse_listing(_page(f"/item/{truth.listing_id}"))
    assert listing.price is not None
    assert listing.price.raw == f"USD {truth.price_usd}"
    assert isinstance(listing.price.amount, Decimal)
