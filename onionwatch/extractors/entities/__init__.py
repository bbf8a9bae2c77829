"""Standalone entity extractors for issue 6: precursors, wallets, PGP keys, places, listing category.

Plain typed functions over text, independent of the spaCy pipeline. Data files and heavy libraries
(pycountry tables, the precursor lexicon, Sequoia) are loaded on first use, not on import.
"""

from __future__ import annotations

from onionwatch.extractors.entities.category import ListingCategory, classify_listing, map_market_category
from onionwatch.extractors.entities.crypto import find_wallets, validate_address
from onionwatch.extractors.entities.geo import REGIONS, is_international, normalise_place, normalise_places
from onionwatch.extractors.entities.models import PgpKey, PrecursorMention, SkippedPgpBlock, WalletMention
from onionwatch.extractors.entities.pgp import PgpScan, find_pgp_keys, scan_pgp_blocks
from onionwatch.extractors.entities.precursors import cas_valid, find_precursors

__all__ = [
    "REGIONS",
    "ListingCategory",
    "PgpKey",
    "PgpScan",
    "PrecursorMention",
    "SkippedPgpBlock",
    "WalletMention",
    "cas_valid",
    "classify_listing",
    "find_pgp_keys",
    "find_precursors",
    "find_wallets",
    "is_international",
    "map_market_category",
    "normalise_place",
    "normalise_places",
    "scan_pgp_blocks",
    "validate_address",
]
