"""Small field parsers shared by page objects: text cleanup, headline money, list cells, counts."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from parsel import Selector

from onionwatch.models import Money

_SPACE = re.compile(r"\s+")

#: symbols and words markets print next to amounts; codes (USD, BTC, ...) are recognised as such
CURRENCY_SYMBOLS = {
    "$": "USD",
    "us$": "USD",
    "€": "EUR",
    "£": "GBP",
    "a$": "AUD",
    "au$": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "₿": "BTC",
    "ɱ": "XMR",
}
CURRENCY_CODES = frozenset(
    {"USD", "EUR", "GBP", "AUD", "CAD", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK", "BTC", "XMR", "LTC", "ETH"}
)

_SYMBOLS = "|".join(re.escape(s) for s in sorted(CURRENCY_SYMBOLS, key=len, reverse=True))
_CODES = "|".join(sorted(CURRENCY_CODES))
_NUMBER = r"\d{1,3}(?:[ ,]\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?"
_MONEY = re.compile(
    rf"(?:(?P<pre>{_SYMBOLS}|\b(?:{_CODES})\b)\s*(?P<n1>{_NUMBER}))"
    rf"|(?:(?P<n2>{_NUMBER})\s*(?P<post>{_SYMBOLS}|\b(?:{_CODES})\b))",
    re.IGNORECASE,
)


def clean_text(value: str | None) -> str | None:
    """Collapse whitespace; ``None`` for empty (missing is ``None``, never ``""``)."""
    if value is None:
        return None
    text = _SPACE.sub(" ", value).strip()
    return text or None


def _decimal(number: str) -> Decimal:
    text = number.replace(" ", "")
    if "," in text and "." not in text and len(text.rsplit(",", 1)[1]) != 3:
        text = text.replace(",", ".")  # "12,50" is a decimal comma
    else:
        text = text.replace(",", "")
    return Decimal(text)


def parse_money(text: str | None) -> Money | None:
    """The first amount with a currency in ``text`` ("USD 51.00", "$40", "40$", "0.0005 BTC")."""
    if not text:
        return None
    match = _MONEY.search(text)
    if match is None:
        return None
    number = match.group("n1") or match.group("n2")
    marker = (match.group("pre") or match.group("post")).lower()
    currency = CURRENCY_SYMBOLS.get(marker, marker.upper())
    try:
        amount = _decimal(number)
    except InvalidOperation:
        return None
    return Money(amount=amount, currency=currency, raw=clean_text(match.group(0)))


def split_list(text: str | None) -> tuple[str, ...]:
    """ "Worldwide, Europe" -> ("Worldwide", "Europe"), keeping page order and duplicates."""
    if not text:
        return ()
    parts = (clean_text(p) for p in re.split(r"[,;/|]", text))
    return tuple(p for p in parts if p)


def parse_count(text: str | None) -> int | None:
    """Stock-like counts: "42" -> 42; "Unlimited", "n/a" or nothing -> None."""
    if not text:
        return None
    match = re.search(r"\d[\d,]*", text)
    return int(match.group(0).replace(",", "")) if match else None


_COINS = "BTC|XMR|LTC|ETH"
_RATE_PATTERNS = (
    # "1 BTC = 97,250.00 USD", "1 XMR = €150"
    re.compile(
        rf"\b1\s*(?P<coin>{_COINS})\s*[=:≈]\s*(?P<pre>{_SYMBOLS})?\s*(?P<n>{_NUMBER})\s*(?P<post>{_CODES})?\b",
        re.I,
    ),
    # "BTC/USD 97250.00", "XMR/EUR: 150"
    re.compile(rf"\b(?P<coin>{_COINS})\s*/\s*(?P<post>{_CODES})\s*:?\s*(?P<n>{_NUMBER})", re.I),
    # "XMR $162.40" (a ticker); not "0.31 XMR $51" (an amount in coins followed by a price)
    re.compile(
        rf"(?<![\d.,]\s)(?<![\d.,])\b(?P<coin>{_COINS})\s+(?P<pre>{_SYMBOLS})\s*(?P<n>{_NUMBER})", re.I
    ),
)


def parse_rates(text: str | None) -> dict[str, dict[str, Decimal]]:
    """Exchange rates a market displays: ``{"BTC": {"USD": Decimal("97250.00")}}``.

    Only explicit rate notations count; an amount in coins next to a price is not a rate.
    """
    rates: dict[str, dict[str, Decimal]] = {}
    if not text:
        return rates
    for pattern in _RATE_PATTERNS:
        for match in pattern.finditer(text):
            groups = match.groupdict()
            marker = groups.get("post") or groups.get("pre")
            if not marker:
                continue
            currency = CURRENCY_SYMBOLS.get(marker.lower(), marker.upper())
            try:
                value = _decimal(groups["n"])
            except InvalidOperation:
                continue
            coin = groups["coin"].upper()
            if value >= 1 and currency != coin:  # one coin is worth more than one unit of fiat
                rates.setdefault(coin, {}).setdefault(currency, value)
    return rates


def page_rates(selector: Selector) -> dict[str, dict[str, Decimal]]:
    """Rates shown anywhere in a page's visible text (headers, sidebars, tickers)."""
    return parse_rates(
        " ".join(selector.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)]").getall())
    )
