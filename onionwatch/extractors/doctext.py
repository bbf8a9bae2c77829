"""One place that reads a Doc's text, and the keys of the inputs a caller attaches to a Doc.

``Doc.text`` is rebuilt from every token on each access (a Token object per token); components read
the text several times per document, so it is computed once and kept in ``doc.user_data``.
"""

from __future__ import annotations

from spacy.tokens import Doc

_KEY = "onionwatch.text"
#: inputs the caller gives a Doc before the pipeline runs (``doc.user_data`` keys)
OBSERVED_ON = "onionwatch.observed_on"
VENDOR_HINT = "onionwatch.vendor_hint"
#: the market's displayed exchange rates, ``{"BTC": {"USD": Decimal(...)}}`` (``Listing.exchange_rates``)
MARKET_RATES = "onionwatch.market_rates"


def text_of(doc: Doc) -> str:
    text = doc.user_data.get(_KEY)
    if not isinstance(text, str):
        text = doc.text
        doc.user_data[_KEY] = text
    return text


def remember_text(doc: Doc, text: str) -> None:
    """The caller made ``doc`` from ``text``: no need to rebuild it."""
    doc.user_data[_KEY] = text
