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
from onionwatch.models import Listing


@dataclass(frozen=True)
class EnginePages:
    """The page objects of one engine: navigation pages and the listing page."""

    home: Callable[[Page], tuple[str, ...]]
    category: Callable[[Page], CategoryPage]
    listing: Callable[[Page], Listing]


def _pages(module: ModuleType) -> EnginePages:
    return EnginePages(home=module.parse_home, category=module.parse_category, listing=module.parse_listing)


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
