"""The small vocabulary every engine's page objects are written in: require a marker, read a
field, collect links. Engines keep their selectors as data and call these."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urljoin

from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.crawler.pages.fields import clean_text
from onionwatch.errors import PageError


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
