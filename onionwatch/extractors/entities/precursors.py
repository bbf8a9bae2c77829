"""Precursor chemicals (fentanyl, methamphetamine, MDMA) in listing text.

Owns the precursor lexicon (``data/precursors.yaml``: canonical ids, names, CAS numbers, synonyms,
abbreviations) and the CAS check-digit rule. A CAS number with a valid check digit identifies its
chemical even when the name is absent; an invalid one is ignored. The lexicon is loaded on first
use and cached.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from onionwatch.errors import ExtractionError
from onionwatch.extractors.entities.models import PrecursorMention

__all__ = ["Precursor", "PrecursorLexicon", "cas_valid", "find_precursors", "load_lexicon"]

_CAS_SHAPE = re.compile(r"(\d{2,7})-(\d{2})-(\d)")


def cas_valid(value: str) -> bool:
    """The CAS check digit rule: the last digit is sum(position * digit) mod 10 over the other digits,
    positions counted from the right starting at 1."""
    match = _CAS_SHAPE.fullmatch(value.strip())
    if match is None:
        return False
    digits = match.group(1) + match.group(2)
    total = sum(position * int(digit) for position, digit in enumerate(reversed(digits), start=1))
    return total % 10 == int(match.group(3))


@dataclass(frozen=True)
class Precursor:
    id: str
    name: str
    cas: str | None
    #: the drug it is used to make ("fentanyl", "methamphetamine", "mdma")
    drug: str
    synonyms: tuple[str, ...]
    abbreviations: tuple[str, ...]
    not_before: frozenset[str]


@dataclass(frozen=True)
class PrecursorLexicon:
    entries: dict[str, Precursor]
    by_cas: dict[str, Precursor]
    #: lower-case surface form -> entry
    by_form: dict[str, Precursor]
    #: forms that are abbreviations (subject to ``not_before``)
    abbreviations: frozenset[str]
    pattern: re.Pattern[str]


def _strings(raw: Any, field: str, entry_id: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, str) and item.strip() for item in raw):
        raise ExtractionError(f"precursors.yaml: {entry_id}.{field} must be a list of non-empty strings")
    return tuple(item.strip() for item in raw)


def _trie_regex(forms: list[str]) -> str:
    """One regex for many lower-case forms, factored by common prefixes (a flat alternation of ~150
    forms is tried form by form at every position: the trie is several times faster on long pages).
    Longer continuations are tried before a form ends, so the longest form wins; a space matches any
    run of whitespace."""
    trie: dict[str, Any] = {}
    for form in forms:
        node = trie
        for char in form:
            node = node.setdefault(char, {})
        node[""] = {}
    return _node_regex(trie)


def _node_regex(node: dict[str, Any]) -> str:
    branches = [
        (r"\s+" if char == " " else re.escape(char)) + _node_regex(child)
        for char, child in node.items()
        if char
    ]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body


def _build(data: Any) -> PrecursorLexicon:
    if not isinstance(data, dict) or not isinstance(data.get("precursors"), list):
        raise ExtractionError("precursors.yaml: top-level 'precursors' list missing")
    entries: dict[str, Precursor] = {}
    by_cas: dict[str, Precursor] = {}
    by_form: dict[str, Precursor] = {}
    abbreviations: set[str] = set()
    for raw in data["precursors"]:
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("id"), str)
            or not isinstance(raw.get("name"), str)
        ):
            raise ExtractionError(f"precursors.yaml: entry without id/name: {raw!r}")
        entry_id = raw["id"]
        cas = raw.get("cas")
        if cas is not None and (not isinstance(cas, str) or not cas_valid(cas)):
            raise ExtractionError(f"precursors.yaml: {entry_id}: invalid CAS number {cas!r}")
        entry = Precursor(
            id=entry_id,
            name=raw["name"],
            cas=cas,
            drug=str(raw.get("drug", "")),
            synonyms=_strings(raw.get("synonyms"), "synonyms", entry_id),
            abbreviations=_strings(raw.get("abbreviations"), "abbreviations", entry_id),
            not_before=frozenset(w.lower() for w in _strings(raw.get("not_before"), "not_before", entry_id)),
        )
        if entry_id in entries:
            raise ExtractionError(f"precursors.yaml: duplicate id {entry_id!r}")
        entries[entry_id] = entry
        if cas is not None:
            if cas in by_cas:
                raise ExtractionError(f"precursors.yaml: CAS {cas} given twice")
            by_cas[cas] = entry
        for form in (entry.name, *entry.synonyms, *entry.abbreviations):
            key = form.lower()
            other = by_form.get(key)
            if other is not None and other is not entry:
                raise ExtractionError(f"precursors.yaml: {form!r} belongs to {other.id} and {entry_id}")
            by_form[key] = entry
        abbreviations.update(a.lower() for a in entry.abbreviations)
    # No letter, digit or hyphen may touch a form: "4-AP" is not inside "4-APB" or "boc-4-AP",
    # "ephedrine" not inside "pseudoephedrine". The trie regex tries longer forms first at each start.
    forms = sorted(" ".join(form.split()) for form in by_form)
    # the forms' first characters as a leading look-ahead: the engine skips to candidates instead
    # of trying the look-behind and the trie at every position (several times faster)
    first = "".join(re.escape(c) for c in sorted({f[0] for f in forms}))
    pattern = re.compile(rf"(?=[{first}])(?<![\w-])(?:{_trie_regex(forms)})(?![\w-]|\.\d)", re.IGNORECASE)
    return PrecursorLexicon(entries, by_cas, by_form, frozenset(abbreviations), pattern)


@lru_cache(maxsize=1)
def load_lexicon() -> PrecursorLexicon:
    text = (
        resources.files("onionwatch.extractors.entities").joinpath("data/precursors.yaml").read_text("utf-8")
    )
    return _build(yaml.safe_load(text))


# A CAS number as text: digits-digits-digit not glued to other digits or hyphens (a phone number or
# a date range must not yield one).
# (the look-ahead first: the engine then skips to digits instead of testing every position)
_CAS_IN_TEXT = re.compile(r"(?=\d)(?<![\d-])\d{2,7}-\d{2}-\d(?![\d-])")
_NEXT_WORD = re.compile(r"\s*([A-Za-z]+)")


def find_precursors(text: str) -> list[PrecursorMention]:
    """Precursor mentions (by name, synonym, abbreviation or valid CAS number) in text order."""
    lexicon = load_lexicon()
    mentions: list[PrecursorMention] = []
    for match in lexicon.pattern.finditer(text):
        surface = match.group()
        key = " ".join(surface.lower().split())
        entry = lexicon.by_form[key]
        if key in lexicon.abbreviations and entry.not_before:
            following = _NEXT_WORD.match(text, match.end())
            if following is not None and following.group(1).lower() in entry.not_before:
                continue
        mentions.append(
            PrecursorMention(entry.id, entry.name, entry.cas, surface, match.start(), match.end())
        )
    for match in _CAS_IN_TEXT.finditer(text):
        cas = match.group()
        cas_entry = lexicon.by_cas.get(cas)
        if cas_entry is not None and cas_valid(cas):
            mentions.append(
                PrecursorMention(cas_entry.id, cas_entry.name, cas_entry.cas, cas, match.start(), match.end())
            )
    mentions.sort(key=lambda m: (m.start, m.end))
    return mentions
