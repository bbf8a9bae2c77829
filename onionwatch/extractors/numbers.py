"""Number spelling in market text: "1,200.50", "1.200,50", "0,002", "25,00", ".5"."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_THOUSANDS_COMMA = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_THOUSANDS_DOT = re.compile(r"^\d{1,3}(?:\.\d{3}){2,}(?:,\d+)?$")
_THOUSANDS_SPACE = re.compile(r"^\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d+)?$")


def parse_number(text: str) -> Decimal:
    """Read one number as a market writes it. Raises ``InvalidOperation`` when it is not one."""
    s = text.strip()
    if _THOUSANDS_SPACE.match(s):
        s = re.sub(r"[ \u00a0\u202f]", "", s)
    if "," in s and "." in s:
        # the later separator is the decimal one: "1,200.50" / "1.200,50"
        comma_last = s.rfind(",") > s.rfind(".")
        s = s.replace(".", "").replace(",", ".") if comma_last else s.replace(",", "")
    elif "," in s:
        # "1,200" and "12,000" are thousands; "0,002", "1,5", "25,00" are decimals
        s = s.replace(",", "") if _THOUSANDS_COMMA.match(s) and not s.startswith("0") else s.replace(",", ".")
    elif _THOUSANDS_DOT.match(s):
        s = s.replace(".", "")
    if s.startswith("."):
        s = "0" + s
    value = Decimal(s)
    if not value.is_finite():
        raise InvalidOperation(text)
    return value
