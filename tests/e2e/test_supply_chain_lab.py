"""Issue 6 end to end, through real Tor: every lab market crawled by the real CLI, then the store
must show the precursor listings shipped from abroad, the weapons listings, the wallet addresses
and PGP keys of the vendor pages, and link the accounts the lab's ground truth says are one vendor."""

from __future__ import annotations

from pathlib import Path

import pytest

from onionwatch.extractors.entities import normalise_place
from onionwatch.index.identity import Account
from onionwatch.index.query import SearchQuery
from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import LabState
from onionwatch.lab.truth import linked_identities, load_lab_truths
from tests.conftest import onionwatch_cli

pytestmark = pytest.mark.lab


@pytest.fixture(scope="module")
def crawled(lab: LabState, tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("supply")
    env = {
        "ONIONWATCH_LAB__DIRECTORY": str(lab.directory),
        "ONIONWATCH_DATA_DIR": str(data),
        # the analysts of this test work for the US: goods from China or India are international
        "ONIONWATCH_HOME_COUNTRY": "US",
    }
    result = onionwatch_cli("crawl", env=env)
    assert result.returncode == 0, result.stderr
    return data / "onionwatch.sqlite"


def _listings(lab: LabState, category: str) -> dict[tuple[str, str], dict[str, object]]:
    return {
        (market, item["listing_id"]): item
        for market, truth in load_lab_truths(lab.directory).items()
        for item in truth["listings"]
        if item["listing_category"] == category
    }


def test_precursor_listings_from_abroad(lab: LabState, crawled: Path) -> None:
    expected = _listings(lab, "precursors")
    assert expected, "the lab has precursor listings"
    with SqliteStore(crawled) as store:
        found = list(store.export(SearchQuery(category="precursors")))
        assert {(h.listing.market, h.listing.listing_id) for h in found} == set(expected)
        for hit in found:
            truth = expected[(hit.listing.market, hit.listing.listing_id)]
            assert hit.enrichment.precursor_ids == (truth["precursor"],), hit.listing.title
            assert hit.enrichment.origin == normalise_place(str(truth["ships_from"]))
            assert hit.enrichment.international is True
        by_precursor = store.search(SearchQuery(precursor="npp", international=True, limit=0))
        assert by_precursor.total == sum(1 for t in expected.values() if t["precursor"] == "npp") > 0


def test_weapons_listings_are_separated(lab: LabState, crawled: Path) -> None:
    expected = _listings(lab, "weapons")
    assert expected
    with SqliteStore(crawled) as store:
        found = {
            (h.listing.market, h.listing.listing_id) for h in store.export(SearchQuery(category="weapons"))
        }
        facets = store.search(SearchQuery(facets=("category",), limit=0)).facets["category"]
    assert found == set(expected)
    assert {b.value for b in facets} >= {"drugs", "precursors", "weapons"}


def test_vendor_pages_give_wallets_and_keys(lab: LabState, crawled: Path) -> None:
    truths = load_lab_truths(lab.directory)
    with SqliteStore(crawled) as store:
        vendors = {(v.market, v.handle): v for v in store.vendors()}
    checked = 0
    for market, truth in truths.items():
        for vendor in truth["vendors"]:
            if not vendor["wallets"] and not vendor["pgp_fingerprint"]:
                continue
            stored = vendors[(market, vendor["handle"])]
            assert {w[1] for w in vendor["wallets"]} <= set(stored.wallets), vendor["handle"]
            if vendor["pgp_fingerprint"]:
                assert vendor["pgp_fingerprint"] in stored.pgp_fingerprints, vendor["handle"]
            checked += 1
    assert checked > 0


def test_accounts_of_one_vendor_are_linked_with_evidence(lab: LabState, crawled: Path) -> None:
    expected = [
        i
        for i in linked_identities(load_lab_truths(lab.directory).values())
        if i["pgp_fingerprints"] or i["wallets"]
    ]
    assert any(not i["same_handle"] for i in expected), "the lab links accounts under different handles"
    with SqliteStore(crawled) as store:
        found = store.identities()
    got = {frozenset(i.accounts): i for i in found}
    for identity in expected:
        accounts = frozenset(Account(market=a["market"], handle=a["handle"]) for a in identity["accounts"])
        assert accounts in got, identity["identity"]
        evidence = {(e.kind, e.value) for e in got[accounts].evidence}
        assert {("pgp", f) for f in identity["pgp_fingerprints"]} <= evidence
        assert {("wallet", w[1]) for w in identity["wallets"]} <= evidence
    # nothing linked that the truth does not link
    assert len(found) == len(expected)
