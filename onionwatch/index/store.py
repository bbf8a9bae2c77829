"""The store contract: one protocol that the SQLite and Elasticsearch stores both satisfy.

The contract test suite (tests/index/test_store_contract.py) runs the same tests against every
implementation; anything a caller may rely on is stated here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from onionwatch.index.query import SearchQuery, SearchResult
from onionwatch.models import Observation, StoredListing, Vendor, WriteResult


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
          (first crawl of a newly added market).
        """

    def get(self, market: str, listing_id: str) -> StoredListing | None: ...

    def count_listings(self, market: str | None = None) -> int: ...

    def count_observations(self, market: str | None = None) -> int: ...

    def vendors(self, market: str | None = None) -> list[Vendor]: ...

    def search(self, query: SearchQuery) -> SearchResult: ...

    def close(self) -> None: ...
