"""Styled and accented characters as the plain ones they stand for, offsets kept.

Titles are written in fancy fonts ("𝕏𝕒𝕟𝕒𝕩 𝟚𝕞𝕘") or full-width ("ＸＡＮＡＸ １０ｇ") to dodge keyword
filters, and names with or without accents ("heroína", "heroina"); the drug matcher and the quantity
parser read them as ASCII.
"""

from __future__ import annotations

import unicodedata


def _fold_char(c: str) -> str:
    folded = unicodedata.normalize("NFKC", c)
    if len(folded) != 1:
        return c
    # accents too: "heroína", "Kétamine", "méthamphétamine" are spelt both ways on markets
    base = unicodedata.normalize("NFKD", folded)
    if len(base) > 1 and all(unicodedata.combining(m) for m in base[1:]):
        return base[0]
    return folded


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first sight of each character: translating in C is about
    3x faster than joining ``_fold_char`` over the characters. It is the only cache of
    ``_fold_char``."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        if len(self) < 65_536:  # a cache, not a leak: bounded
            self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """Fancy-font, full-width and accented characters as the ASCII they stand for, one character
    for one so that every offset stays valid in the original text; characters whose compatibility
    form is longer ("½" → "1⁄2", ligatures) are kept as they are."""
    if text.isascii():
        return text
    return text.translate(_TABLE)


def fold_lower(text: str) -> str:
    """``fold`` then lower case: how the matchers compare words (spaCy's LOWER, lexicon keys, cue
    and unit words)."""
    return fold(text).lower()
