"""Shared data contracts: what flows from the crawler to extraction, the store and the rules.

Strict at the boundary: unknown fields are errors, money is ``Decimal`` with its currency and the
raw text it came from, datetimes are timezone-aware UTC. Missing values are ``None``, never a
sentinel such as ``""`` or ``0``. Nothing here imports the rest of the project.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def _upper(value: str) -> str:
    return value.strip().upper()


CurrencyCode = Annotated[str, Field(min_length=3, max_length=5), AfterValidator(_upper)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


def utcnow() -> datetime:
    return datetime.now(UTC)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Money(_Strict):
    amount: Decimal
    currency: CurrencyCode
    #: the text the amount was read from, as shown by the market
    raw: str | None = None


class PageKind(StrEnum):
    LISTING = "listing"
    VENDOR = "vendor"
    SEARCH = "search"
    LOGIN = "login"
    CAPTCHA = "captcha"
    DDOS = "ddos"
    NOT_FOUND = "not_found"
    OTHER = "other"


class Listing(_Strict):
    """One listing as a page shows it, before enrichment."""

    market: str = Field(min_length=1)
    listing_id: str = Field(min_length=1)
    url: str
    title: str = Field(min_length=1)
    description: str | None = None
    vendor: str | None = None
    #: the price text as shown (may hold several tiers, "1g $40 / 5g $180")
    price_text: str | None = None
    #: the listing's headline price, as shown (currency of the page, not converted)
    price: Money | None = None
    ships_from: str | None = None
    ships_to: tuple[str, ...] = ()
    category: str | None = None
    stock: int | None = Field(default=None, ge=0)
    #: the market's own displayed rates: the value of one coin (BTC, XMR, ...) in each currency,
    #: e.g. {"BTC": {"USD": 97250}}; preferred over any table for converting this listing's prices
    exchange_rates: dict[str, dict[str, Decimal]] = Field(default_factory=dict)
    crawled_at: UtcDatetime
    page_sha256: Sha256Hex


class VendorPage(_Strict):
    """A vendor's profile page on one market, as shown: the text that carries their PGP key, payment
    addresses and terms, before enrichment."""

    market: str = Field(min_length=1)
    handle: str = Field(min_length=1)
    url: str
    #: the profile's visible text (bio, terms, PGP key block, addresses), line breaks kept
    text: str
    ships_from: str | None = None
    crawled_at: UtcDatetime
    page_sha256: Sha256Hex


class Vendor(_Strict):
    market: str
    handle: str = Field(min_length=1)
    url: str | None = None
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    listing_count: int = 0
    #: identifiers seen on the vendor's profile page and listings (sorted)
    pgp_fingerprints: tuple[str, ...] = ()
    wallets: tuple[str, ...] = ()


# --- enrichment (extractors) -------------------------------------------------------------------


class DrugMention(_Strict):
    #: canonical substance id, a public contract ("fentanyl", "nitazene", "cocaine", ...)
    id: str
    #: specific name ("isotonitazene", "acetylfentanyl"); the canonical name when nothing more specific
    name: str
    #: substance class ("fentanyl_class", "opioid", "stimulant", ...)
    cls: str = Field(alias="class", serialization_alias="class")
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuantityMention(_Strict):
    value: Decimal
    unit: Literal["g", "ml", "unit"]
    #: per-unit dose for pills, tabs, blotters ("100 x 80mg" -> value 100 unit, dose 80)
    dose_mg: Decimal | None = None
    text: str


class PriceMention(_Strict):
    amount: Decimal
    currency: CurrencyCode
    usd: Decimal | None = None
    per: Literal["listing", "unit", "gram"] | None = None
    #: index into ``quantities`` of the tier this price belongs to
    quantity_index: int | None = None
    text: str
    rate: Decimal | None = None
    rate_date: date | None = None
    rate_source: str | None = None


#: listing categories, a public contract (analysts filter on them, rules target them)
ListingCategoryName = Literal["drugs", "precursors", "weapons", "fraud", "digital", "services", "other"]
Chain = Literal["bitcoin", "litecoin", "monero", "ethereum"]


class PrecursorMention(_Strict):
    #: canonical precursor id, a public contract ("npp", "anpp", "4-ap", "p2p", ...)
    id: str
    name: str
    #: CAS Registry Number of the canonical entry
    cas: str | None = None
    text: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class WalletMention(_Strict):
    chain: Chain
    #: as written (base58 is case-sensitive); only checksum-valid strings are kept
    address: str
    #: False only for all-lower / all-upper Ethereum addresses, which carry no checksum
    checksummed: bool = True


class PgpKeyInfo(_Strict):
    """A parsed ASCII-armored public key block."""

    #: primary key fingerprint, upper-case hex
    fingerprint: str
    user_ids: tuple[str, ...] = ()
    created: UtcDatetime | None = None


class Enrichment(_Strict):
    drugs: tuple[DrugMention, ...] = ()
    fentanyl_class: bool = False
    quantities: tuple[QuantityMention, ...] = ()
    doses_mg: tuple[Decimal, ...] = ()
    prices: tuple[PriceMention, ...] = ()
    vendor: str | None = None
    #: every key fingerprint the text shows: written out, or of a parsed key block
    pgp_fingerprints: tuple[str, ...] = ()
    precursors: tuple[PrecursorMention, ...] = ()
    wallets: tuple[WalletMention, ...] = ()
    pgp_keys: tuple[PgpKeyInfo, ...] = ()
    category: ListingCategoryName | None = None
    #: ships from / to as ISO 3166-1 alpha-2 codes, or a region ("EU", "WW" = worldwide, ...)
    origin: str | None = None
    destinations: tuple[str, ...] = ()
    #: shipped into the configured home country from outside it; None when unknown or not configured
    international: bool | None = None

    @property
    def has_wallet(self) -> bool:
        return bool(self.wallets)

    @property
    def precursor_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.id for p in self.precursors))

    @property
    def substances(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.id for d in self.drugs))

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d.cls for d in self.drugs))


class EnrichedListing(_Strict):
    listing: Listing
    enrichment: Enrichment = Enrichment()


class EnrichedVendorPage(_Strict):
    """A vendor page and what it says about the account: keys, addresses, origin."""

    page: VendorPage
    wallets: tuple[WalletMention, ...] = ()
    pgp_keys: tuple[PgpKeyInfo, ...] = ()
    pgp_fingerprints: tuple[str, ...] = ()
    origin: str | None = None


# --- store -------------------------------------------------------------------------------------


class Observation(_Strict):
    """One sighting of one listing by one crawl; immutable, append-only."""

    crawl_id: str
    observed_at: UtcDatetime
    listing: Listing
    enrichment: Enrichment = Enrichment()

    @property
    def key(self) -> str:
        return listing_key(self.listing.market, self.listing.listing_id)


def listing_key(market: str, listing_id: str) -> str:
    return f"{market}:{listing_id}"


class EventKind(StrEnum):
    NEW_LISTING = "new_listing"
    NEW_VENDOR = "new_vendor"
    NEW_VENDOR_SUBSTANCE = "new_vendor_substance"
    NEW_VENDOR_MARKET = "new_vendor_market"
    PRICE_CHANGE = "price_change"
    REMOVED = "removed"


class Event(_Strict):
    """A new fact the store learned while writing observations (input to alert rules)."""

    kind: EventKind
    market: str
    at: UtcDatetime
    listing_id: str | None = None
    vendor: str | None = None
    substance: str | None = None
    old_price: Money | None = None
    new_price: Money | None = None


class WriteResult(_Strict):
    written: int
    created: int
    updated: int
    events: tuple[Event, ...] = ()


class StoredListing(_Strict):
    """The latest view of a listing, derived from its observations."""

    listing: Listing
    enrichment: Enrichment = Enrichment()
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    observations: int = Field(ge=1)
    removed: bool = False
