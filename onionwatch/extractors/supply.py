"""Supply-chain fields of the enrichment: precursors, wallets, PGP keys, listing category, origin.

Runs after the spaCy pipeline on the same text (``listing_text``): the entity extractors in
``onionwatch.extractors.entities`` are plain functions over text, so they need no Doc. The category
reads the drug mentions the pipeline found, which is why this step comes last.
"""

from __future__ import annotations

from typing import Any

from onionwatch.extractors.entities import (
    classify_listing,
    find_precursors,
    find_wallets,
    is_international,
    normalise_place,
    normalise_places,
    scan_pgp_blocks,
)
from onionwatch.extractors.vendors import fingerprints
from onionwatch.models import (
    EnrichedVendorPage,
    Listing,
    PgpKeyInfo,
    PrecursorMention,
    VendorPage,
    WalletMention,
)


def wallets(text: str) -> tuple[WalletMention, ...]:
    seen: dict[str, WalletMention] = {}
    for w in find_wallets(text):
        seen.setdefault(w.address, WalletMention(chain=w.chain, address=w.address, checksummed=w.checksummed))
    return tuple(seen.values())


def pgp_keys(text: str) -> tuple[PgpKeyInfo, ...]:
    if "BEGIN PGP" not in text:  # the armor header; most listings have none, skip the scan
        return ()
    keys: dict[str, PgpKeyInfo] = {}
    for key in scan_pgp_blocks(text).keys:
        keys.setdefault(
            key.fingerprint,
            PgpKeyInfo(fingerprint=key.fingerprint, user_ids=key.user_ids, created=key.created),
        )
    return tuple(keys.values())


def supply_fields(
    listing: Listing,
    text: str,
    *,
    has_drugs: bool,
    fingerprints: tuple[str, ...],
    home_country: str | None,
) -> dict[str, Any]:
    """The supply-chain fields of one listing's :class:`~onionwatch.models.Enrichment`."""
    precursors = tuple(
        PrecursorMention(id=p.id, name=p.name, cas=p.cas, text=p.text, start=p.start, end=p.end)
        for p in find_precursors(text)
    )
    keys = pgp_keys(text)
    origin = normalise_place(listing.ships_from)
    return {
        "precursors": precursors,
        "wallets": wallets(text),
        "pgp_keys": keys,
        "pgp_fingerprints": tuple(dict.fromkeys((*fingerprints, *(k.fingerprint for k in keys)))),
        "category": classify_listing(
            listing.title,
            listing.description,
            listing.category,
            has_drugs=has_drugs,
            has_precursors=bool(precursors),
        ),
        "origin": origin,
        "destinations": normalise_places(listing.ships_to),
        "international": (
            None if home_country is None or origin is None else is_international(origin, home_country)
        ),
    }


def enrich_vendor_page(page: VendorPage) -> EnrichedVendorPage:
    """What a vendor page says about the account. A key block that does not parse is left out
    (its fingerprint may still be written out in the text and is kept then)."""
    keys = pgp_keys(page.text)
    return EnrichedVendorPage(
        page=page,
        wallets=wallets(page.text),
        pgp_keys=keys,
        pgp_fingerprints=tuple(dict.fromkeys((*fingerprints(page.text), *(k.fingerprint for k in keys)))),
        origin=normalise_place(page.ships_from),
    )
