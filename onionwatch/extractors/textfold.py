"""Styled characters as the plain ones they stand for, offsets kept.

Titles are written in fancy fonts ("𝕏𝕒𝕟𝕒𝕩 𝟚𝕞𝕘") or full-width ("ＸＡＮＡＸ １０ｇ") to dodge keyword
filters; the drug matcher and the quantity parser read them as ASCII.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    folded = unicodedata.normalize("NFKC", c)
    return folded if len(folded) == 1 else c


def fold(text: str) -> str:
    """Fancy-font and full-width characters as the ASCII they stand for, one character for one so
    that every offset stays valid in the original text; characters whose compatibility form is
    longer ("½" → "1⁄2", ligatures) are kept as they are."""
    if text.isascii():
        return text
    return "".join(map(_fold_char, text))
