"""Vendor profile: everything known about one vendor handle across markets."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from onionwatch.models import StoredListing, UtcDatetime


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
    listings: tuple[StoredListing, ...]
    #: per substance, oldest first
    price_history: dict[str, tuple[PricePoint, ...]]
