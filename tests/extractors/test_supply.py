"""Supply-chain fields of the enrichment (issue 6): precursors, wallets, PGP keys, category,
origin and destination, international vs domestic; vendor pages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pysequoia
import pytest

from onionwatch.extractors import enrich
from onionwatch.extractors.entities.crypto import b58check_encode, segwit_encode
from onionwatch.extractors.supply import enrich_vendor_page
from onionwatch.models import Enrichment, VendorPage

from .conftest import make_listing

Extract = Callable[..., Enrichment]
BTC = b58check_encode(0, bytes(range(20)))
BECH32 = segwit_encode("bc", 0, bytes(range(1, 21)))


@pytest.fixture(scope="module")
def key() -> pysequoia.Cert:
    return pysequoia.Tsk.generate("Chem Shop <chem@example.invalid>").extract_certificate()


def test_precursor_listing_from_abroad() -> None:
    listing = make_listing(
        "NPP powder 1kg, CAS 39742-60-4, 99% purity",
        "Fast shipping from our lab. Also 4-AP in stock.",
        ships_from="China",
        ships_to=("Worldwide",),
        category="Chemicals",
    )
    (item,) = enrich([listing], home_country="US")
    e = item.enrichment
    assert e.category == "precursors"
    assert e.precursor_ids == ("npp", "4-ap")
    assert {p.cas for p in e.precursors} == {"39742-60-4", "23056-29-3"}
    assert (e.origin, e.destinations, e.international) == ("CN", ("WW",), True)


def test_domestic_and_unknown_home() -> None:
    listing = make_listing("Cocaine 1g", ships_from="USA")
    assert enrich([listing], home_country="US")[0].enrichment.international is False
    assert enrich([listing])[0].enrichment.international is None
    assert enrich([listing])[0].enrichment.origin == "US"


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("Glock 19 Gen5 9mm + 2 mags", "weapons"),
        ("Fullz with CVV, USA, fresh", "fraud"),
        ("Oxycodone 30mg x 100", "drugs"),
        ("Carding tutorial 2026 (PDF)", "digital"),
    ],
)
def test_category_from_text(title: str, category: str) -> None:
    assert enrich([make_listing(title)])[0].enrichment.category == category


def test_market_category_wins() -> None:
    listing = make_listing("Stealth package", category="Weapons > Ammunition")
    assert enrich([listing])[0].enrichment.category == "weapons"


def test_wallets_are_checksum_valid_only() -> None:
    broken = BTC[:-1] + ("2" if BTC[-1] != "2" else "3")
    e = enrich([make_listing("Pay direct", f"BTC: {BTC}\nold: {broken}\nsegwit {BECH32}")])[0].enrichment
    assert [(w.chain, w.address) for w in e.wallets] == [("bitcoin", BTC), ("bitcoin", BECH32)]
    assert e.has_wallet


def test_pgp_key_block_in_a_listing(key: pysequoia.Cert) -> None:
    e = enrich([make_listing("MDMA 10g", f"My key:\n{key}")])[0].enrichment
    assert [k.fingerprint for k in e.pgp_keys] == [key.fingerprint.upper()]
    assert e.pgp_keys[0].user_ids == ("Chem Shop <chem@example.invalid>",)
    assert key.fingerprint.upper() in e.pgp_fingerprints


def test_vendor_page(key: pysequoia.Cert) -> None:
    page = VendorPage(
        market="m",
        handle="CheMaster",
        url="http://m.onion/u/CheMaster",
        text=f"Welcome. BTC {BTC}\nFingerprint: {key.fingerprint.upper()}\n{key}",
        ships_from="India",
        crawled_at=datetime(2026, 12, 1, tzinfo=UTC),
        page_sha256="0" * 64,
    )
    item = enrich_vendor_page(page)
    assert [w.address for w in item.wallets] == [BTC]
    assert item.pgp_fingerprints == (key.fingerprint.upper(),)
    assert item.origin == "IN"


def test_a_broken_key_block_costs_nothing_else() -> None:
    text = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot base64 at all\n-----END PGP PUBLIC KEY BLOCK-----"
    e = enrich([make_listing("NPP 100g", f"{text}\nBTC {BTC}")])[0].enrichment
    assert e.pgp_keys == () and e.precursor_ids == ("npp",) and e.has_wallet
