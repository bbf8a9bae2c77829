"""Vendor handle and PGP fingerprints.

Owns the vendor key: the handle as the market shows it, cleaned of decorations that change between
crawls (ratings, sales counts, levels, badges). When the page gave no vendor block, a handle written
in the text ("Vendor: foo", "sold by foo") is used. Output: ``doc._.ow_vendor``, ``doc._.ow_pgp``.
"""

from __future__ import annotations

import re

from spacy.language import Language
from spacy.tokens import Doc

from onionwatch.extractors.batching import BatchedPipe
from onionwatch.extractors.doctext import VENDOR_HINT, declare_result, text_of

_DECORATION = re.compile(
    r"(?:\s*[\(\[][^\)\]]*[\)\]]"  # "(123)", "[4.98]", "(Level 5)"
    r"|\s*[★☆✓✔✅⭐]+\s*[\d.,/]*"
    r"|\s+(?:level|lvl|lv)\s*\d+"
    r"|\s+\d+(?:[.,]\d+)?\s*(?:/\s*\d+|%|★)?"
    r"|\s+(?:verified|trusted|vendor|top\s+seller))+\s*$",
    re.IGNORECASE,
)
_PREFIX = re.compile(r"^\s*(?:(?:vendor|seller|sold\s+by|by|shop|store)\s*[:\-]?\s*)?@?", re.IGNORECASE)
_HANDLE = r"[A-Za-z0-9][A-Za-z0-9_.\-]{1,40}"
_IN_TEXT = re.compile(
    # the look-ahead (every word below starts with one of these letters, in any case) lets the
    # engine skip to candidate characters instead of trying the alternation at each position:
    # about 6x faster on listing text
    rf"(?=[vsмп])(?:\bvendor|\bseller|\bsold\s+by|\bshop"
    # the same word on markets in other languages (de, es/pt, fr, it, ru)
    rf"|\bverk[äa]ufer|\bvendedor|\bvendeur|\bvenditore|продавец|магазин)"
    rf"\s*(?::|-|is)?\s*@?(?P<h>{_HANDLE})",
    re.IGNORECASE,
)
_STOP = frozenset(
    {"the", "a", "an", "our", "us", "me", "here", "page", "profile", "bond", "of", "for", "and"}
)
_FINGERPRINT = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{4}[ \u00a0]{0,2}){9}[0-9A-Fa-f]{4}(?![0-9A-Fa-f])")


def clean_handle(raw: str | None) -> str | None:
    """The handle without what a market decorates it with; None when nothing is left."""
    if raw is None:
        return None
    text = " ".join(raw.split())
    text = _PREFIX.sub("", text, count=1)
    text = _DECORATION.sub("", text).strip(" \t:-|,")
    return text or None


def handle_in_text(text: str) -> str | None:
    for m in _IN_TEXT.finditer(text):
        handle = m.group("h").rstrip(".-")
        if handle.lower() not in _STOP and len(handle) >= 3:
            return handle
    return None


def fingerprints(text: str) -> list[str]:
    return list(dict.fromkeys(re.sub(r"\s", "", m.group(0)).upper() for m in _FINGERPRINT.finditer(text)))


class Vendors(BatchedPipe):
    def __init__(self, name: str, from_text: bool) -> None:
        self.name = name
        self.from_text = from_text
        for ext in ("ow_vendor", "ow_pgp"):
            declare_result(ext)

    def __call__(self, doc: Doc) -> Doc:
        text = text_of(doc)
        vendor = clean_handle(doc.user_data.get(VENDOR_HINT))
        if vendor is None and self.from_text:
            vendor = handle_in_text(text)
        results = doc.user_data  # ``doc._.ow_*``, see declare_result
        results["ow_vendor"] = vendor
        results["ow_pgp"] = fingerprints(text)
        return doc


@Language.factory("onionwatch_vendor_v1", default_config={"from_text": True})
def make_vendors(nlp: Language, name: str, from_text: bool) -> Vendors:
    return Vendors(name, from_text)
