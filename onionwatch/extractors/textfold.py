"""Styled and accented characters as the plain ones they stand for, offsets kept.

Titles are written in fancy fonts ("𝕏𝕒𝕟𝕒𝕩 𝟚𝕞𝕘") or full-width ("ＸＡＮＡＸ １０ｇ") to dodge keyword
filters, and names with or without accents ("heroína", "heroina"); the drug matcher and the quantity
parser read them as ASCII.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    folded = unicodedata.normalize("NFKC", c)
    if len(folded) != 1:
        return c
    # accents too: "heroína", "Kétamine", "méthamphétamine" are spelt both ways on markets
    base = unicodedata.normalize("NFKD", folded)
    if len(base) > 1 and all(unicodedata.combining(m) for m in base[1:]):
        return base[0]
    return folded


def fold(text: str) -> str:
    """Fancy-font, full-width and accented characters as the ASCII they stand for, one character
    for one so that every offset stays valid in the original text; characters whose compatibility
    form is longer ("½" → "1⁄2", ligatures) are kept as they are."""
    if text.isascii():
        return text
    return "".join(map(_fold_char, text))


def fold_lower(text: str) -> str:
    """``fold`` then lower case: how the matchers compare words (spaCy's LOWER, lexicon keys, cue
    and unit words)."""
    return fold(text).lower()
