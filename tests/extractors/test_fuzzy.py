"""Misspelled names: one edit from a long lexicon name, first letter kept, English words left alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from onionwatch.extractors.fuzzy import FuzzyNames, within_one_edit
from onionwatch.extractors.lexicon import load_lexicon
from onionwatch.models import Enrichment

Extract = Callable[..., Enrichment]


@pytest.fixture(scope="module")
def fuzzy() -> FuzzyNames:
    return FuzzyNames(load_lexicon())


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("cacaine", "cocaine", True),  # a letter changed
        ("fentanl", "fentanyl", True),  # a letter missing
        ("oxycodonee", "oxycodone", True),  # a letter added
        ("tapenatdol", "tapentadol", True),  # neighbours swapped
        ("cocanin", "cocaine", False),  # two edits
        ("enforce", "cenforce", False),  # the first letter differs
        ("abc", "bca", False),
    ],
)
def test_within_one_edit(a: str, b: str, near: bool) -> None:
    assert within_one_edit(a, b) is near


@pytest.mark.parametrize(
    ("word", "substance"),
    [
        ("cacaine", "cocaine"),
        ("oxycocone", "oxycodone"),
        ("fentanl", "fentanyl"),
        ("aprazolam", "alprazolam"),
    ],
)
def test_typos_of_long_names(fuzzy: FuzzyNames, word: str, substance: str) -> None:
    term = fuzzy.lookup(word)
    assert term is not None and term.id == substance


@pytest.mark.parametrize(
    "word", ["scatter", "concert", "morphing", "parabola", "enforce", "ambient", "cocaine"]
)
def test_words_and_exact_names_are_not_typos(fuzzy: FuzzyNames, word: str) -> None:
    """English words one edit from a name, and names themselves (the matcher's, not a typo's)."""
    assert fuzzy.lookup(word) is None


def test_short_names_match_exactly_only(fuzzy: FuzzyNames) -> None:
    assert fuzzy.lookup("xanaz") is None  # one edit from "xanax", but 5 letters


def test_a_misspelled_title_is_found_and_negations_still_apply(extract: Extract) -> None:
    e = extract("100G PURE CACAINE FOR TEST")
    assert [(d.id, d.text) for d in e.drugs] == [("cocaine", "CACAINE")]
    assert extract("ORDER 40 MG OXYCOCONE PILLS").drugs[0].id == "oxycodone"
    assert [d.id for d in extract("Heroin 1g, no fentanl").drugs] == ["heroin"]


@pytest.mark.parametrize(
    ("word", "substance"),
    [("0xycodone", "oxycodone"), ("k3tamine", "ketamine"), ("fent4nyl", "fentanyl"), ("xan@x", "alprazolam")],
)
def test_digits_written_for_letters(fuzzy: FuzzyNames, word: str, substance: str) -> None:
    term = fuzzy.lookup(word)
    assert term is not None and term.id == substance


@pytest.mark.parametrize("word", ["windows10", "mp3", "2020", "b4", "sp33d", "d0pe"])
def test_digits_in_other_words_and_ambiguous_terms_are_not_names(fuzzy: FuzzyNames, word: str) -> None:
    assert fuzzy.lookup(word) is None
