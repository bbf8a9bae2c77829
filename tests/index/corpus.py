"""A deterministic fixture corpus for store tests (written by us; no market content)."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from onionwatch.models import (
    DrugMention,
    Enrichment,
    Listing,
    Money,
    Observation,
    PriceMention,
    QuantityMention,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

SUBSTANCES = {
    "fentanyl": ("fentanyl", "fentanyl_class", ["fentanyl", "acetylfentanyl"]),
    "nitazene": ("nitazene", "opioid", ["isotonitazene", "protonitazene"]),
    "heroin": ("heroin", "opioid", ["heroin"]),
    "cocaine": ("cocaine", "stimulant", ["cocaine"]),
    "mdma": ("mdma", "empathogen", ["mdma"]),
    "methamphetamine": ("methamphetamine", "stimulant", ["methamphetamine"]),
    "ketamine": ("ketamine", "dissociative", ["ketamine"]),
}
MARKETS = ("abacus", "bohemia", "cypher")
VENDORS = ("GreenDragon", "nightowl", "PharmaKing", "blue_lotus", "Zed-Labs", "quietstorm")
COUNTRIES = ("NL", "DE", "US", "UK", "CA")
WORDS = ("pure", "stealth", "uncut", "lab tested", "express", "bulk", "sample", "premium", "fast shipping")


def listing(
    market: str,
    listing_id: str,
    *,
    title: str,
    vendor: str | None,
    at: datetime,
    substances: tuple[str, ...] = (),
    price_usd: Decimal | None = None,
    grams: Decimal | None = None,
    description: str | None = None,
    ships_from: str | None = None,
    ships_to: tuple[str, ...] = (),
    crawl_id: str = "crawl-1",
    supply: dict[str, Any] | None = None,
) -> Observation:
    """``supply``: supply-chain fields of the enrichment (category, origin, wallets, ...)."""
    drugs = []
    for s in substances:
        sid, cls, names = SUBSTANCES[s]
        drugs.append(
            DrugMention(id=sid, name=names[-1], cls=cls, text=names[-1], start=0, end=len(names[-1]))
        )
    quantities = (QuantityMention(value=grams, unit="g", text=f"{grams}g"),) if grams is not None else ()
    prices = (
        (
            PriceMention(
                amount=price_usd,
                currency="USD",
                usd=price_usd,
                per="listing",
                quantity_index=0,
                text=f"${price_usd}",
            ),
        )
        if price_usd is not None and grams is not None
        else ()
    )
    sha = hashlib.sha256(f"{market}{listing_id}{at}{price_usd}".encode()).hexdigest()
    return Observation(
        crawl_id=crawl_id,
        observed_at=at,
        listing=Listing(
            market=market,
            listing_id=listing_id,
            url=f"http://{market}.onion/listing/{listing_id}",
            title=title,
            description=description,
            vendor=vendor,
            price_text=None if price_usd is None else f"${price_usd}",
            price=None if price_usd is None else Money(amount=price_usd, currency="USD", raw=f"${price_usd}"),
            ships_from=ships_from,
            ships_to=ships_to,
            crawled_at=at,
            page_sha256=sha,
        ),
        enrichment=Enrichment(
            drugs=tuple(drugs),
            fentanyl_class=any(d.cls == "fentanyl_class" for d in drugs),
            quantities=quantities,
            prices=prices,
            vendor=vendor,
            **(supply or {}),
        ),
    )


def corpus(n: int = 60, seed: int = 11) -> list[Observation]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        market = MARKETS[i % len(MARKETS)]
        vendor = VENDORS[rng.randrange(len(VENDORS))] if i % 11 else None
        subs = tuple(rng.sample(sorted(set(SUBSTANCES) - {"ketamine"}), k=rng.choice((0, 1, 1, 2))))
        grams = Decimal(rng.choice(("0.5", "1", "5", "10", "28")))
        price = (Decimal(rng.randrange(20, 900)) * grams / Decimal(5)).quantize(Decimal("0.01"))
        words = " ".join(rng.sample(WORDS, k=2))
        name = SUBSTANCES[subs[0]][2][-1] if subs else "mystery"
        title = f"{grams}g {name} {words}".strip()
        if i % 7 == 0:
            title += " china white"
        out.append(
            listing(
                market,
                f"L{i:04d}",
                title=title,
                vendor=vendor,
                at=T0 + timedelta(hours=i),
                substances=subs,
                price_usd=price if i % 5 else None,
                grams=grams if i % 5 else None,
                description=f"{words}. batch {i % 4}. Don't miss 3-MMC café" if i % 3 else None,
                ships_from=COUNTRIES[rng.randrange(len(COUNTRIES))] if i % 4 else None,
                ships_to=tuple(sorted(set(rng.sample(COUNTRIES, k=2)))),
            )
        )
    return out
