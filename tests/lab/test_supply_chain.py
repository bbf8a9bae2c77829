"""The lab's supply-chain overlay: precursors from abroad, weapons, and vendors whose profiles link
accounts on different markets. Checked with the project's own extractors, so the truth states
what an extractor can really find."""

from __future__ import annotations

import json
from pathlib import Path

from onionwatch.extractors.entities import (
    ListingCategory,
    classify_listing,
    find_pgp_keys,
    find_precursors,
    find_wallets,
    normalise_place,
)
from onionwatch.extractors.entities.precursors import cas_valid
from onionwatch.lab.market.catalogue import Catalogue, generate
from onionwatch.lab.market.engines import ENGINES
from onionwatch.lab.market.server import write_ground_truth
from onionwatch.lab.market.supply import CAST, SUPPLY_MARKETS, with_supply_chain
from onionwatch.lab.truth import linked_identities, load_lab_truths


def _lab(seed: int = 7) -> dict[str, Catalogue]:
    return {
        name: with_supply_chain(generate(name, seed=seed, currencies=ENGINES[name].currencies))
        for name in SUPPLY_MARKETS
    }


LAB = _lab()


def test_the_seeded_catalogue_is_left_as_it_was() -> None:
    for name, catalogue in LAB.items():
        seeded = generate(name, currencies=ENGINES[name].currencies)
        assert catalogue.listings[: len(seeded.listings)] == seeded.listings
        assert catalogue.vendors[: len(seeded.vendors)] == seeded.vendors
        assert len(catalogue.listings) > len(seeded.listings)


def test_markets_outside_the_lab_get_no_overlay() -> None:
    shop = generate("shop", listings=12)
    assert with_supply_chain(shop) == shop


def test_the_overlay_is_deterministic() -> None:
    assert _lab() == LAB
    assert (
        _lab(seed=8)["nightshade"].vendors[-1].pgp_fingerprint
        != LAB["nightshade"].vendors[-1].pgp_fingerprint
    )


def test_precursor_listings_name_their_chemical_and_ship_from_abroad() -> None:
    precursors = [i for c in LAB.values() for i in c.listings if i.listing_category == "precursors"]
    assert {i.precursor for i in precursors} >= {
        "npp",
        "4-ap",
        "1-boc-4-piperidone",
        "bmk-glycidate",
        "pmk-glycidate",
    }
    assert {i.category for i in precursors} >= {"Chemicals"}
    for item in precursors:
        found = find_precursors(f"{item.title}\n{item.description}")
        assert item.precursor in {m.id for m in found}, item.title
        assert item.cas is not None and cas_valid(item.cas)
        assert {m.cas for m in found if m.id == item.precursor} == {item.cas}
        assert item.ships_from in ("China", "India")
        assert item.substance is None and not item.fentanyl_class
        assert classify_listing(
            item.title, item.description, item.category, has_drugs=False, has_precursors=True
        ) == (ListingCategory.PRECURSORS)
    assert any(item.cas in item.title for item in precursors)  # some titles carry the CAS number


def test_weapons_listings_are_weapons() -> None:
    weapons = [i for c in LAB.values() for i in c.listings if i.listing_category == "weapons"]
    assert {i.title for i in weapons} >= {"Glock 19 Gen5 9mm", "9mm ammo 50 rounds"}
    for item in weapons:
        assert classify_listing(
            item.title, item.description, item.category, has_drugs=False, has_precursors=False
        ) == (ListingCategory.WEAPONS)


def test_every_listing_states_its_category_and_a_real_country() -> None:
    for catalogue in LAB.values():
        for item in catalogue.listings:
            assert item.listing_category in {c.value for c in ListingCategory}
            assert normalise_place(item.ships_from) is not None, item.ships_from


def test_every_wallet_is_valid_and_every_key_parses_to_its_fingerprint() -> None:
    keyed = 0
    for catalogue in LAB.values():
        for vendor in catalogue.vendors:
            assert vendor.wallets
            found = find_wallets("\n".join(address for _, address in vendor.wallets))
            assert [(m.chain, m.address) for m in found] == list(vendor.wallets)
            if vendor.pgp_key is not None:
                keyed += 1
                assert [k.fingerprint for k in find_pgp_keys(vendor.pgp_key)] == [vendor.pgp_fingerprint]
            else:
                assert vendor.pgp_fingerprint is None
    assert keyed >= 5
    chains = {chain for c in LAB.values() for v in c.vendors for chain, _ in v.wallets}
    assert chains == {"bitcoin", "monero", "ethereum"}


def test_the_cast_links_accounts_by_key_and_by_wallet() -> None:
    truths = [json.loads(json.dumps(c.as_json())) for c in LAB.values()]
    links = {link["identity"]: link for link in linked_identities(truths)}
    chemist = links["chemaster"]
    assert chemist["accounts"] == [
        {"market": "nightshade", "handle": "CheMaster"},
        {"market": "bazaar", "handle": "chem_master_eu"},
    ]
    assert len(chemist["pgp_fingerprints"]) == 1 and chemist["wallets"] == []
    lab = links["indochem"]
    assert {a["handle"] for a in lab["accounts"]} == {"IndoChemLab", "desi_chem"}
    assert lab["pgp_fingerprints"] == [] and len(lab["wallets"]) == 1
    # a seeded vendor with a key carries it to every market it sells on
    assert links["PharmaKing"]["same_handle"] and links["PharmaKing"]["pgp_fingerprints"]
    # identities on one market only are not links
    assert "hubei" not in links and "glockworks" not in links
    assert {a.identity for a in CAST} <= {v["identity"] for t in truths for v in t["vendors"]}


def test_lab_truths_are_read_back_from_the_market_dirs(tmp_path: Path) -> None:
    root = tmp_path
    for name, catalogue in LAB.items():
        write_ground_truth(catalogue, root / "markets" / name)
    truths = load_lab_truths(root)
    assert set(truths) == set(SUPPLY_MARKETS)
    vendor = next(v for v in truths["bazaar"]["vendors"] if v["handle"] == "chem_master_eu")
    assert vendor["market"] == "bazaar" and vendor["identity"] == "chemaster"
    assert vendor["pgp_fingerprint"] and vendor["pgp_key"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert all(len(w) == 2 for w in vendor["wallets"])
    item = next(i for i in truths["nightshade"]["listings"] if i["precursor"] == "npp")
    assert (item["listing_category"], item["cas"], item["ships_from"]) == (
        "precursors",
        "39742-60-4",
        "China",
    )
