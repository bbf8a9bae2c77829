"""Market engines: how a simulated market lays out its pages and URLs.

Each engine is a different HTML layout and URL scheme over the same kind of catalogue, so that
per-market page objects and the generic extractor are both exercised. The HTML is our own,
modelled on the structure of real market pages (detail tables, vendor blocks, tier lists, cards).
"""

from __future__ import annotations

from onionwatch.lab.market.engines.base import MarketEngine, Rendered, slug
from onionwatch.lab.market.engines.bazaar import BazaarEngine
from onionwatch.lab.market.engines.kraken import KrakenEngine
from onionwatch.lab.market.engines.nightshade import NightshadeEngine

#: what the market server calls an engine
Engine = MarketEngine

#: engine name -> engine class (the name is also the crawler's page-object engine name)
ENGINES: dict[str, type[MarketEngine]] = {
    engine.name: engine for engine in (NightshadeEngine, BazaarEngine, KrakenEngine)
}

__all__ = [
    "ENGINES",
    "BazaarEngine",
    "Engine",
    "KrakenEngine",
    "MarketEngine",
    "NightshadeEngine",
    "Rendered",
    "slug",
]
