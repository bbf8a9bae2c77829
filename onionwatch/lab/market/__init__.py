"""Simulated onion markets served by the lab (seeded catalogues with ground truth)."""

from __future__ import annotations

#: markets the lab serves as onion services, one backend process each
MARKET_NAMES: tuple[str, ...] = ("nightshade",)
