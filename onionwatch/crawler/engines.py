"""Which page-object module reads which market engine.

A market's configuration names its engine; the spider looks the engine up here and never parses
HTML itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from onionwatch.crawler.pages import bazaar, kraken, nightshade
from onionwatch.crawler.pages.base import CategoryPage, Page
from onionwatch.errors import ConfigError
from onionwatch.models import Listing, VendorPage


@dataclass(frozen=True)
class EnginePages:
    """The page objects of one engine: navigation pages, the listing page and the vendor profile."""

    home: Callable[[Page], tuple[str, ...]]
    category: Callable[[Page], CategoryPage]
    listing: Callable[[Page], Listing]
    #: on a listing page: the URL of its vendor's profile, if the page links one
    vendor_link: Callable[[Page], str | None]
    vendor: Callable[[Page], VendorPage]


def _pages(module: ModuleType) -> EnginePages:
    return EnginePages(
        home=module.parse_home,
        category=module.parse_category,
        listing=module.parse_listing,
        vendor_link=module.vendor_link,
        vendor=module.parse_vendor,
    )


#: engine name -> page objects; the lab's simulated engines share these names
ENGINES: dict[str, EnginePages] = {
    "nightshade": _pages(nightshade),
    "bazaar": _pages(bazaar),
    "kraken": _pages(kraken),
}


def engine_pages(name: str) -> EnginePages:
    try:
        return ENGINES[name]
    except KeyError:
        known = ", ".join(sorted(ENGINES))
        raise ConfigError(f"unknown market engine {name!r} (known: {known})") from None
