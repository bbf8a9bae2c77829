"""The ``onionwatch extract`` line contract (documented in docs/extraction.md).

In: one JSON object per line, ``{"id", "title", "description"?, "price_text"?, "vendor"?,
"observed_on"?}``. Out: one JSON object per input line, in order, with the same ``id``. A line that
cannot be read yields ``{"id": ..., "error": "..."}`` and the stream goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time
from itertools import islice
from typing import Any

from pydantic import ValidationError

from onionwatch.extractors.api import enrich
from onionwatch.models import Enrichment, Listing


def listing_from_record(record: dict[str, Any]) -> Listing:
    observed = record.get("observed_on")
    day = date.fromisoformat(observed) if isinstance(observed, str) else datetime.now(UTC).date()
    return Listing(
        market=str(record.get("market") or "extract"),
        listing_id=str(record["id"]),
        url=str(record.get("url") or ""),
        title=str(record["title"]),
        description=record.get("description"),
        price_text=record.get("price_text"),
        vendor=record.get("vendor"),
        crawled_at=datetime.combine(day, time(12, 0), tzinfo=UTC),
        page_sha256="0" * 64,
    )


def _num(value: Any) -> Any:
    return None if value is None else float(value)


def enrichment_record(record_id: Any, e: Enrichment) -> dict[str, Any]:
    return {
        "id": record_id,
        "drugs": [
            {"id": d.id, "name": d.name, "class": d.cls, "text": d.text, "start": d.start, "end": d.end}
            for d in e.drugs
        ],
        "fentanyl_class": e.fentanyl_class,
        "quantities": [
            {"value": float(q.value), "unit": q.unit, "dose_mg": _num(q.dose_mg), "text": q.text}
            for q in e.quantities
        ],
        "doses_mg": [float(d) for d in e.doses_mg],
        "prices": [
            {
                "amount": float(p.amount),
                "currency": p.currency,
                "usd": _num(p.usd),
                "per": p.per,
                "quantity_index": p.quantity_index,
                "text": p.text,
                "rate": _num(p.rate),
                "rate_date": p.rate_date.isoformat() if p.rate_date else None,
                "rate_source": p.rate_source,
            }
            for p in e.prices
        ],
        "vendor": e.vendor,
        "pgp_fingerprints": list(e.pgp_fingerprints),
        "category": e.category,
        "precursors": [
            {"id": p.id, "name": p.name, "cas": p.cas, "text": p.text, "start": p.start, "end": p.end}
            for p in e.precursors
        ],
        "wallets": [{"chain": w.chain, "address": w.address} for w in e.wallets],
    }


def process_lines(lines: Iterable[str], *, batch_size: int = 256) -> Iterator[str]:
    """Enrich a stream of JSON lines, ``batch_size`` listings per ``nlp.pipe`` call."""
    it = iter(lines)
    while True:
        chunk = list(islice(it, batch_size))
        if not chunk:
            return
        slots: list[tuple[Any, Listing | None, str | None]] = []
        for raw in chunk:
            if not raw.strip():
                continue
            record: Any = None
            try:
                record = json.loads(raw)
                slots.append((record.get("id"), listing_from_record(record), None))
            except (
                json.JSONDecodeError,
                KeyError,
                TypeError,
                ValueError,
                ValidationError,
                AttributeError,
            ) as exc:
                rid = record.get("id") if isinstance(record, dict) else None
                slots.append((rid, None, f"{type(exc).__name__}: {exc}".splitlines()[0]))
        enriched = iter(
            enrich([listing for _, listing, _ in slots if listing is not None], batch_size=batch_size)
        )
        for rid, listing, error in slots:
            if listing is None:
                yield json.dumps({"id": rid, "error": error}, ensure_ascii=False)
            else:
                yield json.dumps(enrichment_record(rid, next(enriched).enrichment), ensure_ascii=False)
