"""The batch API: ``enrich(listings) -> enriched listings``.

Text contract: every offset (``DrugMention.start/end``) indexes into ``listing_text(listing)``, the
title, description and price text that are present, joined with ``"\\n"`` in that order.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from spacy.language import Language
from spacy.tokens import Doc

from onionwatch.extractors.batching import batches
from onionwatch.extractors.doctext import MARKET_RATES, OBSERVED_ON, VENDOR_HINT, remember_text, text_of
from onionwatch.extractors.pipeline import get_pipeline
from onionwatch.extractors.supply import supply_fields
from onionwatch.models import DrugMention, EnrichedListing, Enrichment, Listing

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 256


@contextmanager
def _fewer_collections(young: int = 20_000) -> Iterator[None]:
    """Raise the young-generation threshold while a batch runs: each document allocates thousands
    of short-lived objects (spans, mentions, models), nearly all freed by reference counting, and
    the default threshold (700) would run the collector every few documents."""
    before = gc.get_threshold()
    gc.set_threshold(max(before[0], young), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def listing_text(listing: Listing) -> str:
    price_text = listing.price_text
    if price_text is None and listing.price is not None:
        price_text = listing.price.raw or f"{listing.price.amount} {listing.price.currency}"
    return "\n".join(p for p in (listing.title, listing.description, price_text) if p)


def doc_enrichment(
    doc: Doc,
    drugs_key: str = "drugs",
    *,
    listing: Listing | None = None,
    home_country: str | None = None,
) -> Enrichment:
    """Read one processed Doc into the shared model; with its ``listing``, the supply-chain fields
    (precursors, wallets, PGP keys, category, origin) too."""
    drugs = tuple(
        DrugMention(
            id=s.id_,
            name=s._.ow_name or s.id_,
            cls=s.label_,
            text=s.text,
            start=s.start_char,
            end=s.end_char,
        )
        for s in doc.spans.get(drugs_key, [])
    )
    results = doc.user_data  # ``doc._.ow_*``, see declare_result
    doses: list[Decimal] = results.get("ow_doses_mg") or []
    fingerprints = tuple(results.get("ow_pgp") or ())
    supply: dict[str, Any] = {"pgp_fingerprints": fingerprints}
    if listing is not None:
        supply = supply_fields(
            listing, text_of(doc), has_drugs=bool(drugs), fingerprints=fingerprints, home_country=home_country
        )
    return Enrichment(
        drugs=drugs,
        fentanyl_class=any(d.cls == "fentanyl_class" for d in drugs),
        quantities=tuple(results.get("ow_quantities") or ()),
        doses_mg=tuple(doses),
        prices=tuple(results.get("ow_prices") or ()),
        vendor=results.get("ow_vendor"),
        **supply,
    )


def _docs(nlp: Language, listings: list[Listing]) -> Iterator[Doc]:
    for i, listing in enumerate(listings):
        try:
            text = listing_text(listing)
            doc = nlp.make_doc(text)
            remember_text(doc, text)
        except Exception:  # a tokenizer failure on one text must not stop the batch
            log.exception("cannot tokenize listing %s", listing.listing_id)
            continue
        doc.user_data["ow_index"] = i
        doc.user_data[OBSERVED_ON] = listing.crawled_at.date()
        doc.user_data[VENDOR_HINT] = listing.vendor
        if listing.exchange_rates:
            doc.user_data[MARKET_RATES] = listing.exchange_rates
        yield doc


def _batched_docs(nlp: Language, listings: list[Listing], batch_size: int) -> Iterator[Doc]:
    """The listings' docs, a batch tokenized before any component sees it: the tokenizer then
    keeps its caches warm too, like the components (see ``batching``)."""
    for batch in batches(_docs(nlp, listings), batch_size):
        yield from batch


def enrich(
    listings: Iterable[Listing],
    *,
    nlp: Language | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    home_country: str | None = None,
) -> list[EnrichedListing]:
    """Enrich listings in order. A listing whose document fails comes back with an empty enrichment
    (and a logged warning); the rest of the batch is unaffected. ``home_country`` (a place
    :func:`~onionwatch.extractors.entities.normalise_place` knows) decides ``international``."""
    nlp = nlp or get_pipeline()
    items = list(listings)
    results: list[Enrichment | None] = [None] * len(items)
    with _fewer_collections():
        for doc in nlp.pipe(_batched_docs(nlp, items, batch_size), batch_size=batch_size):
            i = doc.user_data["ow_index"]
            try:
                results[i] = doc_enrichment(doc, listing=items[i], home_country=home_country)
            except Exception:  # a malformed mention must cost one listing, not the batch
                log.exception("cannot read enrichment of listing %s", items[i].listing_id)
    out = []
    for listing, enrichment in zip(items, results, strict=True):
        out.append(EnrichedListing(listing=listing, enrichment=enrichment or Enrichment()))
    return out
