"""Page objects for Nightshade-engine markets (the lab's first simulated engine).

Declarative: each page kind is a set of CSS selectors; the functions below only apply them and
validate that the page is the kind asked for before reading anything.
"""

from __future__ import annotations

import re

from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.crawler.pages.declarative import category_page, first, link, links, require, vendor_page
from onionwatch.crawler.pages.fields import clean_text, page_rates, parse_count, parse_money, split_list
from onionwatch.errors import PageError
from onionwatch.models import Listing, VendorPage

LISTING = {
    "marker": "div.product",
    "listing_id": "div.product::attr(data-id)",
    "title": "h1.product-title::text",
    "vendor": "div.vendor-box a.vendor::text",
    "price": "td.price::text",
    "category": "td.category::text",
    "ships_from": "td.ships-from::text",
    "ships_to": "td.ships-to::text",
    "stock": "td.stock::text",
    "description": "div.description p::text",
    "tiers": "ul.tiers li",
}
CATEGORY = {
    "marker": "div.results",
    "listing_links": "div.card a.card-title::attr(href)",
    "next": "a.next::attr(href)",
}
HOME = {"category_links": "ul.sidebar a::attr(href)"}
VENDOR = {
    "marker": "div.vendor-profile",
    "handle": "h1.vendor-name::text",
    "facts": "div.vendor-profile > p::text",
    # on a listing page: the seller's profile
    "link": "div.vendor-box a.vendor::attr(href)",
}
_SHIPS_FROM = re.compile(r"Ships from (?P<place>[^·]+?)\s*·")


def parse_home(page: Page) -> tuple[str, ...]:
    return links(page, page.selector.css(HOME["category_links"]).getall())


def parse_category(page: Page) -> CategoryPage:
    require(page, CATEGORY["marker"], "Nightshade category")
    listing_hrefs = page.selector.css(CATEGORY["listing_links"]).getall()
    return category_page(page, listing_hrefs, page.selector.css(CATEGORY["next"]).get())


def parse_listing(page: Page) -> Listing:
    require(page, LISTING["marker"], "Nightshade listing")
    title = first(page, LISTING["title"])
    listing_id = first(page, LISTING["listing_id"])
    if not title or not listing_id:
        raise PageError(f"{page.url}: listing page without title or id")
    price_text = " / ".join(
        t
        for t in (
            clean_text(" ".join(li.css("::text").getall())) for li in page.selector.css(LISTING["tiers"])
        )
        if t
    )
    paragraphs = [clean_text(p) for p in page.selector.css(LISTING["description"]).getall()]
    return Listing(
        market=page.market,
        listing_id=listing_id,
        url=page.url,
        title=title,
        description="\n".join(p for p in paragraphs if p) or None,
        vendor=first(page, LISTING["vendor"]),
        price_text=price_text or first(page, LISTING["price"]),
        price=parse_money(first(page, LISTING["price"])),
        ships_from=first(page, LISTING["ships_from"]),
        ships_to=split_list(first(page, LISTING["ships_to"])),
        category=first(page, LISTING["category"]),
        stock=parse_count(first(page, LISTING["stock"])),
        crawled_at=page.crawled_at,
        exchange_rates=page_rates(page.selector),
        page_sha256=page.sha256,
    )


def vendor_link(page: Page) -> str | None:
    return link(page, VENDOR["link"])


def parse_vendor(page: Page) -> VendorPage:
    require(page, VENDOR["marker"], "Nightshade vendor")
    facts = clean_text(" ".join(page.selector.css(VENDOR["facts"]).getall())) or ""
    place = _SHIPS_FROM.search(facts)
    return vendor_page(
        page,
        VENDOR["marker"],
        first(page, VENDOR["handle"]),
        clean_text(place.group("place")) if place else None,
    )
