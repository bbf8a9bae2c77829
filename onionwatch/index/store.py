"""The store contract: one protocol that the SQLite and Elasticsearch stores both satisfy.

The contract test suite (tests/index/test_store_contract.py) runs the same tests against every
implementation; anything a caller may rely on is stated here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from onionwatch.index.identity import Identity
from onionwatch.index.profile import VendorProfile
from onionwatch.index.query import SearchQuery, SearchResult
from onionwatch.models import EnrichedVendorPage, Observation, StoredListing, Vendor, WriteResult


@runtime_checkable
class Store(Protocol):
    def setup(self) -> None:
        """Create schema / indices; idempotent."""

    def write(self, observations: Sequence[Observation], *, baseline: bool = False) -> WriteResult:
        """Append observations and update the derived views.

        - re-writing a listing keeps ``first_seen``, moves ``last_seen``, never duplicates;
        - "new" (listing, vendor, vendor x substance, vendor x market) is decided by create-only
          first-seen keys, so it survives restarts and concurrent writers;
        - ``baseline=True`` records first-seen keys without returning "new" events
          (first crawl of a newly added market);
        - replaying an observation already written (same crawl_id, listing, observed_at, page
          hash) appends nothing and reports nothing;
        - events come in input order: per observation the first-seen facts, then a price change.

        Raises :class:`~onionwatch.errors.StoreUnavailableError` when the backend cannot be reached.
        The Elasticsearch store has durably spooled the batch by then and replays it (with its
        events) at the start of the next ``write``; callers count the error and go on, they do not
        re-send. Other failures raise :class:`~onionwatch.errors.StoreError`.
        """

    def write_vendor_pages(self, pages: Sequence[EnrichedVendorPage]) -> int:
        """Record the PGP fingerprints and wallet addresses each vendor page shows (one row per
        account x identifier, first sighting kept; re-writing a page adds nothing). Returns the
        number of pages written. Listings' own fingerprints and addresses are recorded by
        :meth:`write`."""

    def identities(self) -> list[Identity]:
        """Accounts linked by a shared PGP fingerprint or wallet address, with the evidence
        (:func:`onionwatch.index.identity.link`)."""

    def get(self, market: str, listing_id: str) -> StoredListing | None: ...

    def count_listings(self, market: str | None = None) -> int: ...

    def count_observations(self, market: str | None = None) -> int: ...

    def vendors(self, market: str | None = None) -> list[Vendor]: ...

    def search(self, query: SearchQuery) -> SearchResult:
        """Filtered, sorted, faceted page of latest listings; equal results on every backend
        (ties broken by listing key; ``relevance`` order is backend-specific)."""

    def export(self, query: SearchQuery, *, batch_size: int = 1000) -> Iterator[StoredListing]:
        """Every match of ``query`` (ignoring limit/offset/sort) in listing-key order, without the
        10 000-hit window of :meth:`search`."""

    def vendor_profile(self, handle: str) -> VendorProfile | None:
        """All listings of a vendor handle (case-insensitive) across markets, first/last seen per
        market, substances and price-per-gram history per substance; None if never seen."""

    def mark_removed(self, market: str, seen_before: datetime) -> WriteResult:
        """Flag the market's active listings last seen before ``seen_before`` as removed; returns a
        ``removed`` event per listing that changed (a later observation clears the flag)."""

    def close(self) -> None: ...
