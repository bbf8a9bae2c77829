"""Vendor profile: everything known about one vendor handle across markets."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from onionwatch.index.derive import price_per_gram_usd
from onionwatch.index.identity import Identity, VendorIdentifier
from onionwatch.models import Observation, StoredListing, UtcDatetime


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorMarket(_Frozen):
    market: str
    handle: str
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    listing_count: int


class PricePoint(_Frozen):
    substance: str
    market: str
    listing_id: str
    observed_at: UtcDatetime
    price_per_gram_usd: Decimal


class VendorProfile(_Frozen):
    handle: str
    markets: tuple[VendorMarket, ...]
    substances: tuple[str, ...]
    #: PGP fingerprints and wallet addresses the handle showed, per market, with where first seen
    identifiers: tuple[VendorIdentifier, ...] = ()
    #: accounts elsewhere linked to this handle by a shared key or wallet, with the evidence
    linked: tuple[Identity, ...] = ()
    listings: tuple[StoredListing, ...]
    #: per substance, oldest first
    price_history: dict[str, tuple[PricePoint, ...]]


def add_price_points(history: dict[str, list[PricePoint]], obs: Observation) -> None:
    """One observation's price per gram, once per substance it offers (both stores' history)."""
    ppg = price_per_gram_usd(obs.enrichment)
    if ppg is None:
        return
    for substance in obs.enrichment.substances:
        history.setdefault(substance, []).append(
            PricePoint(
                substance=substance,
                market=obs.listing.market,
                listing_id=obs.listing.listing_id,
                observed_at=obs.observed_at,
                price_per_gram_usd=ppg,
            )
        )
