"""Result types of the entity extractors.

Frozen dataclasses rather than pydantic models: these are produced in bulk on the hot path and the
fields are already validated by the extractors. The store's copies (pydantic, ``extra="forbid"``)
will live in ``onionwatch.models`` once the extractors are wired in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Chain = Literal["bitcoin", "litecoin", "monero", "ethereum"]


@dataclass(frozen=True, slots=True)
class PrecursorMention:
    #: canonical precursor id, a public contract ("npp", "anpp", "p2p", ...)
    id: str
    #: canonical chemical name
    name: str
    #: CAS Registry Number of the canonical entry, None when not verified
    cas: str | None
    #: the text as it appears in the listing
    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class WalletMention:
    chain: Chain
    address: str
    start: int
    end: int
    #: the string carries a checksum that was verified (False only for all-lower / all-upper
    #: Ethereum addresses, which have none)
    checksummed: bool


@dataclass(frozen=True, slots=True)
class PgpKey:
    #: primary key fingerprint, upper-case hex (40 digits for v4 keys, 64 for v6)
    fingerprint: str
    user_ids: tuple[str, ...]
    #: creation time of the primary key (UTC)
    created: datetime | None
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class SkippedPgpBlock:
    """An armored block that looked like a public key but could not be parsed."""

    reason: str
    start: int
    end: int
