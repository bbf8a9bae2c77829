"""One place that reads a Doc's text, and the keys of the inputs a caller attaches to a Doc.

``Doc.text`` is rebuilt from every token on each access (a Token object per token); components read
the text several times per document, so it is computed once and kept in ``doc.user_data``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacy.tokens import Doc

from onionwatch.extractors.textfold import fold

_KEY = "onionwatch.text"
_FOLDED_KEY = "onionwatch.folded"
#: inputs the caller gives a Doc before the pipeline runs (``doc.user_data`` keys)
OBSERVED_ON = "onionwatch.observed_on"
VENDOR_HINT = "onionwatch.vendor_hint"
#: the market's displayed exchange rates, ``{"BTC": {"USD": Decimal(...)}}`` (``Listing.exchange_rates``)
MARKET_RATES = "onionwatch.market_rates"


def declare_result(name: str) -> None:
    """Declare a component's output ``doc._.<name>``, kept in ``doc.user_data[name]``.

    The components and the batch API read and write that entry directly: each ``doc._`` access
    builds an accessor and a key (a few µs, a dozen times per document: about 5 % of enrich's
    time under a profiler), where a dict lookup costs next to nothing. ``doc._.<name>`` reads
    the same value for everyone else.
    """
    Doc.set_extension(name, getter=_reader(name), force=True)


def _reader(name: str) -> Callable[[Doc], Any]:
    return lambda doc: doc.user_data.get(name)


def text_of(doc: Doc) -> str:
    text = doc.user_data.get(_KEY)
    if not isinstance(text, str):
        text = doc.text
        doc.user_data[_KEY] = text
    return text


def folded_of(doc: Doc) -> str:
    """``fold(text_of(doc))``, computed once: the drug and quantity components both read it."""
    folded = doc.user_data.get(_FOLDED_KEY)
    if not isinstance(folded, str):
        folded = fold(text_of(doc))
        doc.user_data[_FOLDED_KEY] = folded
    return folded


def remember_text(doc: Doc, text: str) -> None:
    """The caller made ``doc`` from ``text``: no need to rebuild it."""
    doc.user_data[_KEY] = text
