"""Vendor identities: accounts on different markets (or under different handles) linked because
they show the same PGP key fingerprint or the same wallet address, with the evidence kept.

Both stores keep the raw identifiers (one row per account x identifier, from vendor pages and
listing texts) and call :func:`link` on them, so linking is decided in one place.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from onionwatch.index import derive
from onionwatch.models import EnrichedVendorPage, Observation, UtcDatetime

IdentifierKind = Literal["pgp", "wallet"]

#: an identifier shown by more accounts than this is the market's own (its escrow address, its
#: staff key on every page), not a vendor's: it links nobody
MAX_ACCOUNTS_PER_IDENTIFIER = 8


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VendorIdentifier(_Frozen):
    market: str
    handle: str
    kind: IdentifierKind
    #: fingerprint upper-case hex; wallet address as written
    value: str
    #: when it was first recorded (create-only on both backends: the first write wins, which is the
    #: earliest sighting as long as crawls move forward in time)
    first_seen: UtcDatetime
    #: the page it was first recorded from
    source: str

    @property
    def account(self) -> Account:
        return Account(market=self.market, handle=self.handle)

    @property
    def id(self) -> str:
        """Deterministic: one row per (market, handle, kind, value), whoever writes it first."""
        return derive.first_seen_id(
            "identifier", self.market, derive.norm_key(self.handle) or self.handle, self.kind, self.value
        )


class Account(_Frozen):
    market: str
    handle: str


class Evidence(_Frozen):
    kind: IdentifierKind
    value: str
    accounts: tuple[Account, ...]


class Identity(_Frozen):
    """Two or more accounts that are one vendor, and why."""

    accounts: tuple[Account, ...]
    evidence: tuple[Evidence, ...]


def from_vendor_page(item: EnrichedVendorPage) -> list[VendorIdentifier]:
    page = item.page
    return [
        VendorIdentifier(
            market=page.market,
            handle=page.handle,
            kind=kind,
            value=value,
            first_seen=page.crawled_at,
            source=page.url,
        )
        for kind, value in _values(item.pgp_fingerprints, (w.address for w in item.wallets))
    ]


def from_observation(obs: Observation) -> list[VendorIdentifier]:
    handle = derive.vendor_handle(obs.listing, obs.enrichment)
    if handle is None:
        return []
    e = obs.enrichment
    return [
        VendorIdentifier(
            market=obs.listing.market,
            handle=handle,
            kind=kind,
            value=value,
            first_seen=obs.observed_at,
            source=obs.listing.url,
        )
        for kind, value in _values(e.pgp_fingerprints, (w.address for w in e.wallets))
    ]


def _values(fingerprints: Iterable[str], addresses: Iterable[str]) -> list[tuple[IdentifierKind, str]]:
    out: list[tuple[IdentifierKind, str]] = [("pgp", f.upper()) for f in dict.fromkeys(fingerprints)]
    out.extend(("wallet", a) for a in dict.fromkeys(addresses))
    return out


def by_account(identifiers: Sequence[VendorIdentifier]) -> dict[tuple[str, str], dict[str, Any]]:
    """(market, handle_norm) -> the Vendor fields of its identifiers."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for i in identifiers:
        fields = out.setdefault(
            (i.market, derive.norm_key(i.handle) or i.handle), {"pgp_fingerprints": (), "wallets": ()}
        )
        name = "pgp_fingerprints" if i.kind == "pgp" else "wallets"
        fields[name] = tuple(sorted({*fields[name], i.value}))
    return out


def _account_key(account: Account) -> tuple[str, str]:
    return account.market, derive.norm_key(account.handle) or account.handle


def link(
    identifiers: Iterable[VendorIdentifier], *, max_accounts: int = MAX_ACCOUNTS_PER_IDENTIFIER
) -> list[Identity]:
    """Group accounts sharing any identifier (transitively); only groups of two or more accounts."""
    holders: dict[tuple[str, str], dict[tuple[str, str], Account]] = defaultdict(dict)
    for ident in identifiers:
        holders[(ident.kind, ident.value)].setdefault(_account_key(ident.account), ident.account)
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def find(x: tuple[str, str]) -> tuple[str, str]:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    shared = {k: v for k, v in holders.items() if 2 <= len(v) <= max_accounts}
    accounts: dict[tuple[str, str], Account] = {}
    for members in shared.values():
        keys = sorted(members)
        for key in keys:
            accounts[key] = members[key]
            parent[find(key)] = find(keys[0])
    groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for key in accounts:
        groups[find(key)].append(key)
    out = []
    for members_keys in groups.values():
        member_set = set(members_keys)
        evidence = tuple(
            Evidence(kind=kind, value=value, accounts=tuple(holders_[k] for k in sorted(holders_)))
            for (kind, value), holders_ in sorted(shared.items())
            if set(holders_) & member_set
        )
        out.append(Identity(accounts=tuple(accounts[k] for k in sorted(member_set)), evidence=evidence))
    return sorted(out, key=lambda i: _account_key(i.accounts[0]))


def identities_of(identities: Sequence[Identity], handle: str) -> tuple[Identity, ...]:
    """The identities one of whose accounts has ``handle`` (case-insensitive)."""
    norm = derive.norm_key(handle)
    return tuple(i for i in identities if any(derive.norm_key(a.handle) == norm for a in i.accounts))
