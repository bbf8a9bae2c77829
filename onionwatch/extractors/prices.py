"""Prices: amount + currency from market notation, tier pairing with quantities, USD value.

Owns "$40", "40$", "€25", "25 EUR", "₿0.002", "0.5 XMR", "$1.2k", "$40/g", "$5 each", and which
quantity each price belongs to ("1g $40 / 5g $180"). Reads ``doc._.ow_quantities`` (the quantity
component runs first), ``doc.user_data[OBSERVED_ON]`` (the date used for the USD rate, set by
the caller; today when absent) and ``doc.user_data[MARKET_RATES]`` (the rates the market displayed,
which win over any table). Output: ``doc._.ow_prices`` and ``doc.spans["prices"]``.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal

from spacy.language import Language
from spacy.tokens import Doc

from onionwatch.extractors.batching import BatchedPipe
from onionwatch.extractors.currency import UsdConverter, default_converter
from onionwatch.extractors.doctext import MARKET_RATES, OBSERVED_ON, declare_result, text_of
from onionwatch.extractors.numbers import parse_number
from onionwatch.models import PriceMention

Per = Literal["listing", "unit", "gram"]

_SYMBOLS = {
    "$": "USD",
    "usd$": "USD",
    "cad$": "CAD",
    "aud$": "AUD",
    "nzd$": "NZD",
    "us$": "USD",
    "usd": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euro": "EUR",
    "eu": "EUR",
    "euros": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "a$": "AUD",
    "au$": "AUD",
    "aud": "AUD",
    "c$": "CAD",
    "ca$": "CAD",
    "cad": "CAD",
    "chf": "CHF",
    "sek": "SEK",
    "nok": "NOK",
    "dkk": "DKK",
    "pln": "PLN",
    "czk": "CZK",
    "₿": "BTC",
    "฿": "BTC",
    "ƀ": "BTC",
    "btc": "BTC",
    "xbt": "BTC",
    "mbtc": "mBTC",
    "xmr": "XMR",
    "ɱ": "XMR",
    "monero": "XMR",
    "ltc": "LTC",
    "eth": "ETH",
    "bch": "BCH",
    # markets outside the dollar/euro zone
    "nz$": "NZD",
    "r$": "BRL",
    "brl": "BRL",
    "nzd": "NZD",
    "zł": "PLN",
    "₽": "RUB",
    "rub": "RUB",
    "руб": "RUB",
    "руб.": "RUB",
    "рублей": "RUB",
    "₴": "UAH",
    "грн": "UAH",
    "uah": "UAH",
    "usdt": "USDT",
}
_PREFIX = (
    r"(?:USD|CAD|AUD|NZD)[ \t]?\$|US\$|AU\$|CA\$|A\$|C\$|(?<![A-Za-z])(?:NZ|R)\$|\$|€|£|₿|฿|Ƀ|ɱ|₽|₴"
    r"|(?<![A-Za-z])(?:USD|EUR|GBP|AUD|CAD|CHF|BTC|XBT|mBTC|XMR|LTC|ETH|BCH|USDT|BRL|RUB|UAH|zł)"
)
_SUFFIX = (
    r"\$|€|£|₿|₽|₴|(?:USDT|USD|EUR|GBP|AUD|CAD|NZD|CHF|SEK|NOK|DKK|PLN|CZK|BRL|RUB|UAH|BTC|XBT|mBTC|XMR"
    r"|LTC|ETH|BCH|dollars?|bucks|euros?|eu|monero|zł|рублей|руб\.?|грн)(?![A-Za-z\u0400-\u04ff])"
)
# "1 200 €" with a (narrow) no-break space between thousands, as French and Russian pages print it
_AMOUNT = (
    r"\d{1,3}(?:,\d{3})+(?:\.\d{1,8})?|\d{1,3}(?:\.\d{3})+,\d{1,2}|\d{1,3}(?:[\u00a0\u202f]\d{3})+(?:,\d{1,2})?"
    r"|\d+(?:[.,]\d{1,8})?|[.,]\d{1,8}"
)
# The characters a price starts with: a digit or decimal mark, or the first character of a
# _PREFIX alternative (letters matched in any case, as the pattern is). Opening with it fails
# most positions in one test instead of trying each _PREFIX alternative case-insensitively
# (measured: find_prices about 25 % faster).
_PRICE_START = r"(?=[\d.,$€£₿฿Ƀɱ₽₴ucanregbxmlz])"
_PRICE = re.compile(
    rf"{_PRICE_START}(?:(?P<pre>{_PREFIX})[ \t]?(?P<amt1>{_AMOUNT})(?P<k1>[kK](?![A-Za-z]))?"
    # "45,- €", "45.- EUR": whole amounts written with a dash for the cents; "3 500 ₽": thousands
    # split by a plain space, only before the currency (a number before the amount is rarely that)
    rf"|(?<![\w.,])(?P<amt2>\d{{1,3}}(?: \d{{3}})+(?![\d.,])|{_AMOUNT})(?P<k2>[kK])?(?:[.,]-)?"
    rf"[ \t\u00a0\u202f]?(?P<suf>{_SUFFIX}))",
    # Unicode \d on purpose: styled digits ("𝟠𝟚$" in a fancy-font title) are digits to Decimal too
    re.IGNORECASE,
)
_PER_GRAM = re.compile(r"^[ \t]*(?:/|per|a|an|p)[ \t]*(?:g|gr|gs|gram|grams|gramm|gm)\b", re.I)
_PER_UNIT = re.compile(
    r"^[ \t]*(?:(?:/|per|a|an)[ \t]*(?:pill|tab|tablet|unit|piece|pc|blotter|hit|cap|capsule|bar|strip|vial|"
    r"pcs|pills|tabs|ml)\b|each\b|ea\b|pp\b|apiece\b)",
    re.I,
)
_PER_GRAM_BEFORE = re.compile(r"(?:per[ \t]+(?:g|gram)|price[ \t]+per[ \t]+gram)[ \t:]*$", re.I)
# a shipping word that directly introduces the amount ("Shipping $10", "postage: £3", "+ S&H 5$");
# "FREE WORLDWIDE SHIPPING ★ 3 $ per tab" is not one
_SHIPPING = re.compile(
    r"(?:shipping|postage|delivery|s&h|s/h|reship|tracking)"
    r"(?:[ \t]+(?:cost|costs|fee|fees|price|is|of|for|only|from))*"
    r"[ \t]*[:=\-–]?[ \t]*\+?[ \t]*$",
    re.I,
)
_SHIPPING_AFTER = re.compile(
    r"^[ \t]*(?:for[ \t]+)?(?:shipping|postage|delivery|s&h|tracking)\b"
    r"(?![ \t]*(?:options?|methods?)?[ \t]*:)",
    re.I,
)
# one character class first (a space only when " - " follows it): the engine then skips ahead to
# candidates instead of trying an alternation at every position
_SEPARATOR_RX = re.compile(r"[\n|;/,•* ](?:(?<! )|(?=- ))")
# every price has a digit: _PRICE runs only in windows around digit runs. A match starts at most
# 7 characters before its first digit ("USD $ .5") and ends at most 10 after its last ("5k dollars"
# and the look-ahead after it), so the windows hold every match the whole text would give.
_DIGITS = re.compile(r"\d+")
_BEFORE_DIGIT = 8
_AFTER_DIGIT = 12


@dataclass(frozen=True)
class FoundPrice:
    start: int
    end: int
    amount: Decimal
    currency: str
    per: Per | None


def find_prices(text: str) -> list[FoundPrice]:
    """Every price in ``text`` with its explicit per-gram/per-unit marker (no pairing, no USD)."""
    out: list[FoundPrice] = []
    for m in _price_matches(text):
        sym = (m.group("pre") or m.group("suf") or "").lower().replace(" ", "").replace("\t", "")
        currency = _SYMBOLS.get(sym)
        if currency is None or (sym == "eu" and not m.group(0)[-3:-2].isdigit()):
            continue  # "eu" is a euro only glued to the amount ("20eu"); "20 EU" is a region
        raw_amount = m.group("amt1") or m.group("amt2")
        try:
            amount = parse_number(raw_amount)
        except InvalidOperation:
            continue
        if m.group("k1") or m.group("k2"):
            amount *= 1000
        if currency == "mBTC":
            currency, amount = "BTC", amount / 1000
        if amount <= 0:
            continue
        start, end = m.start(), m.end()
        if _SHIPPING.search(text[max(0, start - 30) : start]) or _SHIPPING_AFTER.match(text[end : end + 20]):
            continue
        per: Per | None = None
        tail = text[end : end + 20]
        g = _PER_GRAM.match(tail) or None
        u = _PER_UNIT.match(tail) if g is None else None
        if g is not None:
            per, end = "gram", end + g.end()
        elif u is not None:
            per, end = "unit", end + u.end()
        elif _PER_GRAM_BEFORE.search(text[max(0, start - 20) : start]):
            per = "gram"
        out.append(FoundPrice(start, end, amount, currency, per))
    return _dedupe(text, out)


def _price_matches(text: str) -> Iterator[re.Match[str]]:
    window_start = window_end = -1
    for d in _DIGITS.finditer(text):
        start, end = max(0, d.start() - _BEFORE_DIGIT), d.end() + _AFTER_DIGIT
        if start > window_end:
            if window_end >= 0:
                yield from _PRICE.finditer(text, window_start, window_end)
            window_start = start
        window_end = end
    if window_end >= 0:
        yield from _PRICE.finditer(text, window_start, window_end)


def _dedupe(text: str, prices: list[FoundPrice]) -> list[FoundPrice]:
    """The same amount repeated on another line (title and price box) is one price."""
    seen: dict[tuple[Decimal, str], int] = {}
    out = []
    for p in prices:
        key = (p.amount, p.currency)
        line = text.count("\n", 0, p.start)
        if key in seen and seen[key] != line:
            continue
        seen.setdefault(key, line)
        out.append(p)
    return out


_ADJACENT = re.compile(r"[ \t]*[/:=@-]?[ \t]*$")


def pair_tiers(
    text: str, quantities: list[tuple[int, int]], prices: list[FoundPrice], *, one_amount: bool = False
) -> list[int | None]:
    """For each price, the index of the quantity (tier) it belongs to, or None. ``one_amount``: every
    quantity states the same amount ("x100 ... 100 count"), so a lone price belongs to the first."""
    result: list[int | None] = [None] * len(prices)
    open_prices = [i for i, p in enumerate(prices) if p.per is None]
    if not quantities or not open_prices:
        return result  # nothing to pair: skip finding the segments
    listed_first = max(e for _, e in quantities) <= prices[open_prices[0]].start
    if len(quantities) == len(open_prices) > 1 and listed_first:
        # the amounts, then their prices: "1g/3.5g/7g $80/$250/$450", "1g-5g-10g $80-$350-$650"
        for q, i in enumerate(open_prices):
            result[i] = q
        return result
    # a price written right after its amount: "1g/$40 5g/$150", "5g: $150", "1g = 40€"
    ends = {e: q for q, (_, e) in enumerate(quantities)}
    for i in open_prices:
        start = prices[i].start
        for gap in range(4):
            amount = ends.get(start - gap)
            if amount is not None and _ADJACENT.match(text, start - gap, start) and amount not in result:
                result[i] = amount
                break
    open_prices = [i for i in open_prices if result[i] is None]
    if not open_prices:
        return result
    # separator positions outside every quantity/price span; a position's segment is how many
    # separators come before it
    spans = _merged([*quantities, *((p.start, p.end) for p in prices)])
    span_starts = [st for st, _ in spans]

    def covered(pos: int) -> bool:
        k = bisect_right(span_starts, pos) - 1
        return k >= 0 and pos < spans[k][1]

    cuts = [m.start() for m in _SEPARATOR_RX.finditer(text) if not covered(m.start())]

    def segment(pos: int) -> int:
        return bisect_right(cuts, pos)

    for i in open_prices:
        p = prices[i]
        here = segment(p.start)
        same = [q for q, (s, _) in enumerate(quantities) if segment(s) == here]
        if len(same) == 1:
            result[i] = same[0]
        elif same:
            before = [q for q in same if quantities[q][0] < p.start]
            result[i] = before[-1] if before else same[0]
    unpaired = [i for i in open_prices if result[i] is None]
    if unpaired and quantities:
        used = {r for r in result if r is not None}
        free = [q for q in range(len(quantities)) if q not in used]
        if len(free) == len(unpaired):
            for i, q in zip(unpaired, free, strict=True):
                result[i] = q
        elif len(quantities) == 1 or (one_amount and len(unpaired) == 1):
            for i in unpaired:
                result[i] = 0
    return result


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping cover of ``spans`` (quantity and price spans may overlap)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


class Prices(BatchedPipe):
    def __init__(self, name: str, spans_key: str | None, converter: UsdConverter | None = None) -> None:
        self.name = name
        self.spans_key = spans_key
        self._converter = converter
        declare_result("ow_prices")

    @property
    def converter(self) -> UsdConverter:
        if self._converter is None:
            self._converter = default_converter()
        return self._converter

    def __call__(self, doc: Doc) -> Doc:
        text = text_of(doc)
        found = find_prices(text)
        results = doc.user_data  # ``doc._.ow_*``, see declare_result
        quantity_spans: list[tuple[int, int]] = results.get("ow_quantity_offsets") or []
        amounts = {(q.value, q.unit, q.dose_mg) for q in results.get("ow_quantities") or ()}
        tiers = pair_tiers(text, quantity_spans, found, one_amount=len(amounts) == 1)
        on: date = doc.user_data.get(OBSERVED_ON) or datetime.now(UTC).date()
        market = doc.user_data.get(MARKET_RATES)
        mentions = []
        spans = []
        for p, tier in zip(found, tiers, strict=True):
            per: Per | None = p.per
            if per is None and (tier is not None or len(found) == 1):
                per = "listing"
            rate = self.converter.rate(p.currency, on, market)
            usd = (p.amount * rate.rate).quantize(Decimal("0.01")) if rate is not None else None
            mentions.append(
                PriceMention(
                    amount=p.amount,
                    currency=p.currency,
                    usd=usd,
                    per=per,
                    quantity_index=tier,
                    text=text[p.start : p.end],
                    rate=rate.rate if rate else None,
                    rate_date=rate.date if rate else None,
                    rate_source=rate.source if rate else None,
                )
            )
            if self.spans_key:
                span = doc.char_span(p.start, p.end, label="PRICE", alignment_mode="expand")
                if span is not None:
                    spans.append(span)
        results["ow_prices"] = mentions
        if self.spans_key:
            doc.spans[self.spans_key] = spans
        return doc


@Language.factory("onionwatch_prices_v1", default_config={"spans_key": "prices"})
def make_prices(nlp: Language, name: str, spans_key: str | None) -> Prices:
    return Prices(name, spans_key)
