"""Page objects for Kraken-engine markets: slug URLs, cards with data attributes, size tiers in a
``<select>``, USD prices with a Monero hint, and the vendor's markdown-ish text kept as typed.

Declarative like the Nightshade module: selectors per page kind, applied only after the page has
shown it is the kind asked for.
"""

from __future__ import annotations

import re

from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.crawler.pages.declarative import category_page, first, link, links, require, vendor_page
from onionwatch.crawler.pages.fields import clean_text, page_rates, parse_count, parse_money, split_list
from onionwatch.errors import PageError
from onionwatch.models import Listing, VendorPage

LISTING = {
    "marker": "article.listing[data-listing-id]",
    "listing_id": "article.listing::attr(data-listing-id)",
    "title": "h1.listing__title::text",
    "vendor": "aside.seller a.seller__name::text",
    # the amount as the buyer sees it; the XMR hint next to it is a conversion, not the price
    "price": "div.price span.price__fiat::text",
    "tiers": "form.buy select option::text",
    "description": "div.md[data-format]::text",
}
#: listing facts: field -> the ``data-fact`` key of its row
FACTS = {"category": "category", "ships_from": "origin", "ships_to": "destinations", "stock": "stock"}
CATEGORY = {
    "marker": "section.grid[data-category]",
    "listing_links": "article.card a.card__link::attr(href)",
    "next": "nav.pager a[rel=next]::attr(href)",
}
HOME = {"category_links": "nav.chips a.chip::attr(href)"}
VENDOR = {
    "marker": "header.shop-head[data-vendor]",
    "container": "main.container",
    "handle": "header.shop-head::attr(data-vendor)",
    "facts": "header.shop-head p::text",
    # on a listing page: the seller's shop
    "link": "aside.seller a.seller__name::attr(href)",
}
_SHIPS_FROM = re.compile(r"ships from (?P<place>[^·]+?)\s*·")


def _fact(page: Page, field: str) -> str | None:
    return first(page, f'ul.facts li[data-fact="{FACTS[field]}"] span.facts__v::text')


def _description(page: Page) -> str | None:
    """The vendor's text line by line (markdown markers kept: that is what the page shows)."""
    raw = "".join(page.selector.css(LISTING["description"]).getall())
    lines = [clean_text(line) or "" for line in raw.strip().splitlines()]
    text = "\n".join(lines).strip()
    return text or None


def parse_home(page: Page) -> tuple[str, ...]:
    return links(page, page.selector.css(HOME["category_links"]).getall())


def parse_category(page: Page) -> CategoryPage:
    require(page, CATEGORY["marker"], "Kraken category")
    listing_hrefs = page.selector.css(CATEGORY["listing_links"]).getall()
    return category_page(page, listing_hrefs, page.selector.css(CATEGORY["next"]).get())


def parse_listing(page: Page) -> Listing:
    require(page, LISTING["marker"], "Kraken listing")
    title = first(page, LISTING["title"])
    listing_id = first(page, LISTING["listing_id"])
    if not title or not listing_id:
        raise PageError(f"{page.url}: listing page without title or id")
    tiers = [clean_text(t) for t in page.selector.css(LISTING["tiers"]).getall()]
    price_line = first(page, LISTING["price"])
    return Listing(
        market=page.market,
        listing_id=listing_id,
        url=page.url,
        title=title,
        description=_description(page),
        vendor=first(page, LISTING["vendor"]),
        price_text=" / ".join(t for t in tiers if t) or price_line,
        price=parse_money(price_line),
        ships_from=_fact(page, "ships_from"),
        ships_to=split_list(_fact(page, "ships_to")),
        category=_fact(page, "category"),
        stock=parse_count(_fact(page, "stock")),
        crawled_at=page.crawled_at,
        exchange_rates=page_rates(page.selector),
        page_sha256=page.sha256,
    )


def vendor_link(page: Page) -> str | None:
    return link(page, VENDOR["link"])


def parse_vendor(page: Page) -> VendorPage:
    require(page, VENDOR["marker"], "Kraken vendor")
    facts = clean_text(" ".join(page.selector.css(VENDOR["facts"]).getall())) or ""
    place = _SHIPS_FROM.search(facts)
    return vendor_page(
        page,
        VENDOR["container"],
        first(page, VENDOR["handle"]),
        clean_text(place.group("place")) if place else None,
    )
