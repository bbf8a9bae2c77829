"""Page objects for Bazaar-engine markets: PHP-style ``index.php?page=...`` URLs, table rows, a
definition list of listing facts, numbered pagination, and prices in EUR (continental notation) or BTC.

Declarative like the Nightshade module: selectors per page kind, applied only after the page has
shown it is the kind asked for.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.crawler.pages.declarative import category_page, first, link, links, require, vendor_page
from onionwatch.crawler.pages.fields import clean_text, page_rates, parse_count, parse_money, split_list
from onionwatch.errors import PageError
from onionwatch.models import Listing, Money, VendorPage

LISTING = {
    "marker": "table.listing-box",
    "listing_id": "dd.listing-id::text",
    "title": "h2.listing-title::text",
    "vendor": "div.listing-vendor a::text",
    "price": "div.listing-price",
    "offers": "table.offers tr:has(td)",
    "description": "div.listing-desc::text",
}
#: listing facts: field -> the <dt> label whose <dd> holds it
FACTS = {"category": "Category", "ships_from": "Ships from", "ships_to": "Ships to", "stock": "Stock"}
_FACT = '//dl[@class="listing-info"]/dt[normalize-space()="{label}"]/following-sibling::dd[1]//text()'
CATEGORY = {
    "marker": "table.listings",
    "listing_links": "table.listings td.item a::attr(href)",
    # numbered pages: the link right after the current page's number is the next page
    "next": '//div[@class="pages"]/b[@class="current"]/following-sibling::a[1]/@href',
}
HOME = {"category_links": "td.menu a::attr(href)"}
VENDOR = {
    "marker": "table.vendor-info",
    "container": "td#content",
    "title": "h2.vendor-title::text",
    "location": '//table[@class="vendor-info"]//tr[normalize-space(td[1])="Location"]/td[2]//text()',
    # on a listing page: the seller's profile
    "link": "div.listing-vendor a::attr(href)",
}

#: "1.234,50 €": dots group thousands, the comma starts the cents (the generic parser reads the dot
#: as a decimal point, so this market's notation is read here)
_EURO = re.compile(r"(?P<n>\d{1,3}(?:\.\d{3})*,\d{2})\s*€")


def _text(page: Page, query: str) -> str | None:
    return clean_text(" ".join(page.selector.css(query).css("::text").getall()))


def _fact(page: Page, field: str) -> str | None:
    return clean_text(" ".join(page.selector.xpath(_FACT.format(label=FACTS[field])).getall()))


def parse_price(text: str | None) -> Money | None:
    """The headline amount: "44,79 €" (EUR), or "0.00056789 BTC (≈ $55.20)" (BTC, the hint ignored)."""
    if not text:
        return None
    euro = _EURO.search(text)
    if euro is not None:
        try:
            amount = Decimal(euro.group("n").replace(".", "").replace(",", "."))
        except InvalidOperation:
            return None
        return Money(amount=amount, currency="EUR", raw=euro.group(0))
    return parse_money(text)


def parse_home(page: Page) -> tuple[str, ...]:
    return links(page, page.selector.css(HOME["category_links"]).getall())


def parse_category(page: Page) -> CategoryPage:
    require(page, CATEGORY["marker"], "Bazaar category")
    listing_hrefs = page.selector.css(CATEGORY["listing_links"]).getall()
    return category_page(page, listing_hrefs, page.selector.xpath(CATEGORY["next"]).get())


def parse_listing(page: Page) -> Listing:
    require(page, LISTING["marker"], "Bazaar listing")
    title = first(page, LISTING["title"])
    listing_id = first(page, LISTING["listing_id"])
    if not title or not listing_id:
        raise PageError(f"{page.url}: listing page without title or id")
    offers = [
        clean_text(" ".join(row.css("td::text, td b::text").getall()))
        for row in page.selector.css(LISTING["offers"])
    ]
    price_line = _text(page, LISTING["price"])
    lines = [clean_text(line) for line in page.selector.css(LISTING["description"]).getall()]
    return Listing(
        market=page.market,
        listing_id=listing_id,
        url=page.url,
        title=title,
        description="\n".join(line for line in lines if line) or None,
        vendor=first(page, LISTING["vendor"]),
        price_text=" / ".join(o for o in offers if o) or price_line,
        price=parse_price(price_line),
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
    require(page, VENDOR["marker"], "Bazaar vendor")
    title = first(page, VENDOR["title"]) or ""
    handle = title.removeprefix("Vendor profile:").strip() or None
    location = clean_text(" ".join(page.selector.xpath(VENDOR["location"]).getall()))
    return vendor_page(page, VENDOR["container"], handle, location)
