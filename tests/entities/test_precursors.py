"""Precursor lexicon: CAS check digits, names, abbreviations with strict edges, CAS-only mentions."""

from __future__ import annotations

import re

import pytest

from onionwatch.errors import ExtractionError
from onionwatch.extractors.entities import cas_valid, find_precursors
from onionwatch.extractors.entities.precursors import _build, load_lexicon


def ids(text: str) -> list[str]:
    return [m.id for m in find_precursors(text)]


@pytest.mark.parametrize(
    "cas",
    ["39742-60-4", "21409-26-7", "23056-29-3", "125541-22-2", "1609-66-1", "41661-47-6", "40064-34-4",
     "79099-07-3", "79-03-8", "80532-66-7", "13605-48-6", "103-79-7", "90-82-4", "299-42-3", "74-89-5",
     "94-59-7", "120-57-0", "4676-39-5", "7732-18-5", "50-00-0"],
)  # fmt: skip
def test_cas_check_digit_accepts_valid_numbers(cas: str) -> None:
    assert cas_valid(cas)


@pytest.mark.parametrize(
    "cas",
    ["39742-60-5", "79-03-9", "7732-18-4", "1-00-0", "39742604", "39742-6-4", "12345678-90-1", "", "ab-cd-e"],
)
def test_cas_check_digit_rejects_invalid_numbers(cas: str) -> None:
    assert not cas_valid(cas)


def test_every_lexicon_cas_number_passes_the_check_digit() -> None:
    lexicon = load_lexicon()
    numbers = [entry.cas for entry in lexicon.entries.values() if entry.cas is not None]
    assert len(numbers) == 18
    assert all(cas_valid(cas) for cas in numbers)


def test_issue_cas_numbers_are_on_the_right_entries() -> None:
    by_id = {entry.id: entry.cas for entry in load_lexicon().entries.values()}
    assert by_id["npp"] == "39742-60-4"
    assert by_id["anpp"] == "21409-26-7"
    assert by_id["4-ap"] == "23056-29-3"
    assert by_id["1-boc-4-ap"] == "125541-22-2"
    assert by_id["norfentanyl"] == "1609-66-1"
    assert by_id["4-piperidone"] == "41661-47-6"
    assert by_id["4-piperidone-hcl-monohydrate"] == "40064-34-4"
    assert by_id["1-boc-4-piperidone"] == "79099-07-3"
    assert by_id["propionyl-chloride"] == "79-03-8"
    assert by_id["bmk-glycidate"] == "80532-66-7"
    assert by_id["pmk-glycidate"] == "13605-48-6"


def test_every_entry_names_the_drug_it_makes() -> None:
    drugs = {entry.drug for entry in load_lexicon().entries.values()}
    assert drugs == {"fentanyl", "methamphetamine", "mdma"}


def test_names_synonyms_and_abbreviations() -> None:
    text = "In stock: NPP 99%, 4-ANPP, N-phenethyl-4-piperidone, propionyl chloride 1L, Norfentanyl"
    assert ids(text) == ["npp", "anpp", "npp", "propionyl-chloride", "norfentanyl"]


def test_mention_carries_canonical_name_cas_and_offsets() -> None:
    text = "Selling anpp powder"
    (mention,) = find_precursors(text)
    assert (mention.id, mention.name, mention.cas) == (
        "anpp",
        "4-anilino-N-phenethylpiperidine",
        "21409-26-7",
    )
    assert text[mention.start : mention.end] == mention.text == "anpp"


@pytest.mark.parametrize(
    "text",
    ["4-APB pellets 100mg", "5-APB and 6-APB", "NPPS", "BMKs", "P2Pool mining", "PMK-2", "4-AP2", "x4-AP"],
)
def test_abbreviations_need_clean_edges(text: str) -> None:
    assert ids(text) == []


def test_4_ap_is_not_taken_out_of_1_boc_4_ap() -> None:
    assert ids("1-boc-4-AP and boc-4-AP and 4-AP") == ["1-boc-4-ap", "1-boc-4-ap", "4-ap"]


def test_longest_form_wins() -> None:
    assert ids("4-piperidone hydrochloride monohydrate, 4-piperidone") == [
        "4-piperidone-hcl-monohydrate",
        "4-piperidone",
    ]
    assert ids("BMK glycidate and BMK") == ["bmk-glycidate", "p2p"]
    assert ids("pseudoephedrine, ephedrine") == ["pseudoephedrine", "ephedrine"]


def test_whitespace_inside_a_name_may_vary() -> None:
    assert ids("propionyl\n  chloride") == ["propionyl-chloride"]


@pytest.mark.parametrize(
    "text",
    ["P2P meth 28g", "p2p crystal shards", "P2P transfer accepted", "fast P2P payments", "dimethylamine"],
)
def test_words_that_change_an_abbreviation_meaning(text: str) -> None:
    assert ids(text) == []


def test_p2p_oil_is_a_precursor() -> None:
    assert ids("Pure P2P oil 1 litre, phenylacetone") == ["p2p", "p2p"]


def test_mdma_precursors() -> None:
    assert ids("New PMK powder, PMK oil, safrole, sassafras oil, piperonal (heliotropin)") == [
        "pmk-glycidate", "pmk", "safrole", "safrole", "piperonal", "piperonal",
    ]  # fmt: skip


def test_a_valid_cas_number_alone_identifies_the_chemical() -> None:
    text = "CAS 39742-60-4, also 13605-48-6 and 80532-66-7 in stock"
    mentions = find_precursors(text)
    assert [m.id for m in mentions] == ["npp", "pmk-glycidate", "bmk-glycidate"]
    assert [m.text for m in mentions] == ["39742-60-4", "13605-48-6", "80532-66-7"]


def test_invalid_or_glued_cas_numbers_are_ignored() -> None:
    # one digit off (check digit fails), glued into a longer number, and a valid CAS we do not list
    assert ids("CAS 39742-60-5; ref 139742-60-4; 39742-60-4-1; water 7732-18-5") == []


def test_name_and_cas_both_reported_in_text_order() -> None:
    mentions = find_precursors("NPP (CAS 39742-60-4)")
    assert [(m.id, m.text) for m in mentions] == [("npp", "NPP"), ("npp", "39742-60-4")]


def test_unrelated_text_has_no_precursors() -> None:
    assert ids("Blue M30 pressed pills, fentanyl free, ships from Canada") == []


def test_lexicon_is_loaded_once() -> None:
    assert load_lexicon() is load_lexicon()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "top-level"),
        ({"precursors": [{"id": "x"}]}, "id/name"),
        ({"precursors": [{"id": "x", "name": "x", "cas": "39742-60-5"}]}, "invalid CAS"),
        ({"precursors": [{"id": "x", "name": "x"}, {"id": "x", "name": "y"}]}, "duplicate id"),
        (
            {"precursors": [{"id": "x", "name": "x", "synonyms": ["z"]}, {"id": "y", "name": "z"}]},
            "belongs to",
        ),
        ({"precursors": [{"id": "x", "name": "x", "synonyms": "z"}]}, "list of non-empty strings"),
    ],
)
def test_a_broken_lexicon_is_a_clear_error(data: object, message: str) -> None:
    with pytest.raises(ExtractionError, match=re.escape(message)):
        _build(data)


def test_fast_enough_for_bulk_listings() -> None:
    import time

    text = "Selling NPP, 4-ANPP and 1-boc-4-AP, CAS 39742-60-4. Ships worldwide. " * 20
    find_precursors(text)
    started = time.perf_counter()
    for _ in range(200):
        find_precursors(text)
    # ~1.4 kB of text per call: well under 5 ms each even on a loaded 2-core machine
    assert (time.perf_counter() - started) / 200 < 0.005
