"""Pure derivations shared by every store backend, so both index exactly the same values.

Search text is normalised here rather than by each engine's tokenizer: FTS5's ``unicode61`` and
Elasticsearch's ``standard`` tokenizer disagree on inputs such as ``0.5g`` or ``fentanyl_class``
(one token in ES, two in FTS5). Reducing text to lower-case runs of letters and digits separated
by single spaces makes both engines see identical tokens, which is what lets the contract suite
demand equal results from both.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from onionwatch.models import Enrichment, Listing, Money, Observation

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def search_tokens(text: str | None) -> list[str]:
    if not text:
        return []
    return _WORD.findall(text.casefold())


def search_text(text: str | None) -> str:
    return " ".join(search_tokens(text))


def norm_key(value: str | None) -> str | None:
    """Case-insensitive identity for keyword filters (vendor handles, markets, countries)."""
    if value is None:
        return None
    value = " ".join(value.split()).casefold()
    return value or None


def vendor_handle(listing: Listing, enrichment: Enrichment) -> str | None:
    # The page's vendor field wins; the extractor's guess only fills a gap.
    handle = listing.vendor or enrichment.vendor
    return handle.strip() if handle and handle.strip() else None


def substances_text(enrichment: Enrichment) -> str:
    names: dict[str, None] = {}
    for drug in enrichment.drugs:
        names[drug.id] = None
        names[drug.name] = None
    return search_text(" ".join(names))


def supply_terms(enrichment: Enrichment) -> dict[str, list[str]]:
    """The multi-valued supply-chain keyword fields of a listing, normalised like every keyword."""
    fields = {
        "destination": list(enrichment.destinations),
        "precursor": list(enrichment.precursor_ids),
        "wallet": [w.address for w in enrichment.wallets],
        "pgp": list(enrichment.pgp_fingerprints),
    }
    return {name: sorted({n for n in map(norm_key, values) if n}) for name, values in fields.items()}


def bool_facet(value: bool) -> str:
    """How a yes/no facet bucket is named on every backend."""
    return "true" if value else "false"


def price_per_gram_usd(enrichment: Enrichment) -> Decimal | None:
    """Lowest USD price per gram among the listing's price tiers, or None when none is per gram.

    A tier counts when it is stated per gram, or is a listing/tier price tied to a quantity in
    grams (via ``quantity_index``, or the only gram quantity when there is just one).
    """
    grams = [q for q in enrichment.quantities if q.unit == "g" and q.value > 0]
    best: Decimal | None = None
    for price in enrichment.prices:
        if price.usd is None:
            continue
        value: Decimal | None = None
        if price.per == "gram":
            value = price.usd
        elif price.per in (None, "listing"):
            quantity = None
            if price.quantity_index is not None and 0 <= price.quantity_index < len(enrichment.quantities):
                quantity = enrichment.quantities[price.quantity_index]
            elif len(grams) == 1 and len(enrichment.prices) == 1:
                quantity = grams[0]
            if quantity is not None and quantity.unit == "g" and quantity.value > 0:
                value = price.usd / quantity.value
        if value is not None and (best is None or value < best):
            best = value
    return None if best is None else best.quantize(Decimal("0.0001"))


def price_equal(a: Money | None, b: Money | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.amount == b.amount and a.currency == b.currency


def observation_id(observation: Observation) -> str:
    """Deterministic id: replaying the same observation (spool, retry) never appends twice."""
    raw = "\x1f".join(
        (
            observation.crawl_id,
            observation.key,
            iso(observation.observed_at),
            observation.listing.page_sha256,
        )
    )
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def first_seen_id(kind: str, *parts: str) -> str:
    raw = "\x1f".join((kind, *parts))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


@lru_cache(maxsize=4096)
def iso(value: datetime) -> str:
    """UTC ISO-8601 with fixed microsecond width, so string order equals time order.

    Cached: a write formats each observation's time for several documents."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
