"""Simulated onion markets served by the lab (seeded catalogues with ground truth)."""

from __future__ import annotations

#: markets the lab serves as onion services (one backend process each) -> the engine that renders
#: each; the engine name is also the crawler's page-object engine for that market
MARKET_ENGINES: dict[str, str] = {"nightshade": "nightshade", "bazaar": "bazaar", "kraken": "kraken"}

MARKET_NAMES: tuple[str, ...] = tuple(MARKET_ENGINES)
