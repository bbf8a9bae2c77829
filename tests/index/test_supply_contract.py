"""Supply-chain fields in both stores: category, origin, wallets, PGP keys, precursors as filters
and facets; vendor identifiers and identities linked by a shared key or wallet (issue 6)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from onionwatch.errors import QuerySyntaxError
from onionwatch.index.identity import Account
from onionwatch.index.query import SearchQuery
from onionwatch.models import (
    EnrichedVendorPage,
    PgpKeyInfo,
    PrecursorMention,
    VendorPage,
    WalletMention,
)

from .corpus import T0, listing

FPR = "A" * 39 + "1"
OTHER_FPR = "B" * 39 + "2"
BTC = "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
XMR_LIKE = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"


def npp(text: str = "NPP") -> PrecursorMention:
    return PrecursorMention(
        id="npp", name="N-phenethyl-4-piperidone", cas="39742-60-4", text=text, start=0, end=3
    )


def supply_corpus() -> list[Any]:
    return [
        listing(
            "abacus",
            "p1",
            title="NPP 1kg CAS 39742-60-4",
            vendor="CheMaster",
            at=T0,
            ships_from="China",
            supply={
                "category": "precursors",
                "origin": "CN",
                "destinations": ("WW",),
                "international": True,
                "precursors": (npp(),),
                "wallets": (WalletMention(chain="bitcoin", address=BTC),),
            },
        ),
        listing(
            "abacus",
            "w1",
            title="Glock 19 9mm",
            vendor="ironworks",
            at=T0 + timedelta(minutes=1),
            ships_from="Germany",
            supply={"category": "weapons", "origin": "DE", "destinations": ("EU",), "international": True},
        ),
        listing(
            "bohemia",
            "d1",
            title="1g fentanyl",
            vendor="Acme",
            at=T0 + timedelta(minutes=2),
            substances=("fentanyl",),
            ships_from="United States",
            supply={
                "category": "drugs",
                "origin": "US",
                "destinations": ("US",),
                "international": False,
                "pgp_fingerprints": (FPR,),
                "pgp_keys": (PgpKeyInfo(fingerprint=FPR, user_ids=("Acme <acme@example.invalid>",)),),
            },
        ),
        listing("bohemia", "x1", title="something", vendor="Acme", at=T0 + timedelta(minutes=3)),
    ]


def keys(result: Any) -> list[str]:
    return sorted(f"{h.listing.market}:{h.listing.listing_id}" for h in result.hits)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SearchQuery(category="precursors"), ["abacus:p1"]),
        (SearchQuery(category="Weapons"), ["abacus:w1"]),
        (SearchQuery(origin="cn"), ["abacus:p1"]),
        (SearchQuery(destination="EU"), ["abacus:w1"]),
        (SearchQuery(precursor="npp"), ["abacus:p1"]),
        (SearchQuery(wallet=BTC), ["abacus:p1"]),
        (SearchQuery(pgp=FPR.lower()), ["bohemia:d1"]),
        (SearchQuery(has_wallet=True), ["abacus:p1"]),
        (SearchQuery(has_wallet=False), ["abacus:w1", "bohemia:d1", "bohemia:x1"]),
        (SearchQuery(international=True), ["abacus:p1", "abacus:w1"]),
        (SearchQuery(international=False), ["bohemia:d1"]),
        (SearchQuery(text="category:precursors OR category:weapons"), ["abacus:p1", "abacus:w1"]),
        (SearchQuery(text="origin:CN precursor:npp"), ["abacus:p1"]),
        (SearchQuery(text=f"wallet:{BTC}"), ["abacus:p1"]),
        (SearchQuery(text=f"fingerprint:{FPR}"), ["bohemia:d1"]),
        (SearchQuery(text="-category:drugs market:bohemia"), ["bohemia:x1"]),
    ],
)
def test_supply_filters(store: Any, query: SearchQuery, expected: list[str]) -> None:
    store.write(supply_corpus())
    assert keys(store.search(query)) == expected


def test_supply_facets(store: Any) -> None:
    store.write(supply_corpus())
    result = store.search(SearchQuery(facets=("category", "origin", "precursor", "has_wallet", "class")))
    facets = {name: [(b.value, b.count) for b in buckets] for name, buckets in result.facets.items()}
    assert facets == {
        "category": [("drugs", 1), ("precursors", 1), ("weapons", 1)],
        "origin": [("CN", 1), ("DE", 1), ("US", 1)],
        "precursor": [("npp", 1)],
        "has_wallet": [("false", 3), ("true", 1)],
        "class": [("fentanyl_class", 1)],
    }


def test_supply_fields_read_back(store: Any) -> None:
    store.write(supply_corpus())
    got = store.get("abacus", "p1")
    assert got is not None
    e = got.enrichment
    assert (e.category, e.origin, e.international, e.precursor_ids, e.has_wallet) == (
        "precursors",
        "CN",
        True,
        ("npp",),
        True,
    )


def test_unknown_supply_field_is_a_clear_error() -> None:
    with pytest.raises(QuerySyntaxError, match="unknown field 'wallets'"):
        SearchQuery(text="wallets:abc")


def vendor_page(
    market: str, handle: str, *, fingerprints: tuple[str, ...] = (), wallets: tuple[str, ...] = ()
) -> Any:
    page = VendorPage(
        market=market,
        handle=handle,
        url=f"http://{market}.onion/u/{handle}",
        text="profile",
        crawled_at=T0,
        page_sha256="0" * 64,
    )
    return EnrichedVendorPage(
        page=page,
        pgp_fingerprints=fingerprints,
        wallets=tuple(WalletMention(chain="bitcoin", address=w) for w in wallets),
    )


def test_identities_linked_by_pgp_key_and_wallet_with_evidence(store: Any) -> None:
    store.write(supply_corpus())  # CheMaster shows BTC in a listing on abacus; Acme shows FPR on bohemia
    pages = [
        vendor_page("abacus", "CheMaster", fingerprints=(OTHER_FPR,)),
        vendor_page("cypher", "chem_master_eu", fingerprints=(OTHER_FPR,)),  # same key, other handle
        vendor_page("cypher", "AcmeLabs", wallets=(XMR_LIKE,)),
        vendor_page("bohemia", "Acme", fingerprints=(FPR,), wallets=(XMR_LIKE,)),  # shares a wallet
        vendor_page("cypher", "loner", fingerprints=("C" * 40,)),
    ]
    assert store.write_vendor_pages(pages) == 5
    assert store.write_vendor_pages(pages) == 5  # re-writing adds nothing (checked below)
    identities = store.identities()
    assert [i.accounts for i in identities] == [
        (Account(market="abacus", handle="CheMaster"), Account(market="cypher", handle="chem_master_eu")),
        (Account(market="bohemia", handle="Acme"), Account(market="cypher", handle="AcmeLabs")),
    ]
    assert [(e.kind, e.value) for e in identities[0].evidence] == [("pgp", OTHER_FPR)]
    assert [(e.kind, e.value) for e in identities[1].evidence] == [("wallet", XMR_LIKE)]

    vendors = {(v.market, v.handle): v for v in store.vendors()}
    assert vendors[("abacus", "CheMaster")].wallets == (BTC,)  # from its listing
    assert vendors[("abacus", "CheMaster")].pgp_fingerprints == (OTHER_FPR,)  # from its page
    assert vendors[("bohemia", "Acme")].pgp_fingerprints == (FPR,)

    profile = store.vendor_profile("acme")
    assert profile is not None
    assert sorted((i.kind, i.value) for i in profile.identifiers) == [("pgp", FPR), ("wallet", XMR_LIKE)]
    assert [i.accounts for i in profile.linked] == [identities[1].accounts]
    first = next(i for i in profile.identifiers if i.kind == "pgp")
    assert first.source == "http://bohemia.onion/listing/d1"  # recorded from the listing, written first


def test_an_identifier_on_many_accounts_links_nobody(store: Any) -> None:
    """A market's own escrow address or staff key shown beside every vendor is not evidence."""
    shared = "1BoatSLRHtKNngkdXEeobR76b53LETtpyT"
    pages = [vendor_page("abacus", f"vendor{i}", wallets=(shared,)) for i in range(12)]
    store.write_vendor_pages(pages)
    assert store.identities() == []
