"""The small vocabulary every engine's page objects are written in: require a marker, read a
field, collect links. Engines keep their selectors as data and call these."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin

from lxml import html as lxml_html

from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.crawler.pages.fields import clean_text
from onionwatch.crawler.pages.generic import visible_text
from onionwatch.errors import PageError
from onionwatch.models import VendorPage


def require(page: Page, marker: str, what: str) -> None:
    """A page says whether it is the page asked for, before anything is read from it."""
    if not page.selector.css(marker):
        raise PageError(f"{page.url} is not a {what} page (no {marker!r})")


def first(page: Page, query: str) -> str | None:
    return clean_text(page.selector.css(query).get())


def links(page: Page, hrefs: Iterable[str]) -> tuple[str, ...]:
    """Absolute, de-duplicated, in page order."""
    return tuple(dict.fromkeys(urljoin(page.url, href) for href in hrefs))


def category_page(page: Page, listing_hrefs: Iterable[str], next_href: str | None) -> CategoryPage:
    return CategoryPage(
        listing_urls=tuple(urljoin(page.url, href) for href in listing_hrefs),
        next_url=urljoin(page.url, next_href) if next_href else None,
    )


def link(page: Page, query: str) -> str | None:
    """The absolute URL of the first link ``query`` selects, if any."""
    href = page.selector.css(query).get()
    return urljoin(page.url, href.strip()) if href and href.strip() else None


def vendor_page(page: Page, container: str, handle: str | None, ships_from: str | None) -> VendorPage:
    """The profile inside ``container`` (the market's menus and footer left out) as a VendorPage."""
    if not handle:
        raise PageError(f"{page.url}: vendor page without a handle")
    html = page.selector.css(container).get()
    if html is None:
        raise PageError(f"{page.url}: vendor page without {container!r}")
    return VendorPage(
        market=page.market,
        handle=handle,
        url=page.url,
        text=visible_text(lxml_html.fragment_fromstring(html)),
        ships_from=ships_from,
        crawled_at=page.crawled_at,
        page_sha256=page.sha256,
    )
