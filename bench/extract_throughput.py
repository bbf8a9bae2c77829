"""Throughput of ``onionwatch.extractors.enrich`` against a tokenizer-only pass of the same pipeline.

Generates N varied synthetic listings from the lexicon (deterministic seed), runs the tokenizer alone
and then the full ``enrich`` batch API on the same texts in one process, and prints listings/s, the
ratio (goal: >= 0.33 of tokenizer-only) and the peak RSS. Stops by itself (default 20,000 listings,
well under a few minutes on one core).

    .venv/bin/python bench/extract_throughput.py [--n 20000] [--batch-size 256] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, datetime

TEMPLATES = (
    "{q} {drug} {adj} – {price}",
    "{adj} {drug} {q} | {price} | ships from {country}",
    "{drug} {dose} x {count} {form} {price}",
    "{count}x {drug} {dose} ({adj}) {price}",
    "{drug} {q1} {p1} / {q2} {p2} / {q3} {p3}",
    "{neg} {drug} {q} {price}",
    "Pressed {slang} x{count} – {price} each",
    "{drug} {street} {price}",
)
ADJ = (
    "pure",
    "uncut",
    "lab tested",
    "top shelf",
    "high quality",
    "92%",
    "stealth shipping",
    "fishscale",
    "pharma",
)
FORMS = ("pills", "tabs", "caps", "blotters", "bars", "pcs")
COUNTRIES = ("NL", "Germany", "USA", "UK", "Canada", "Australia", "Spain")
STREET = ("8-ball", "QP", "HP", "zip", "teener", "1/8 oz", "half zip", "1 key")
SLANG = ("M30s", "blues", "30s", "percs", "roxies")
NEG = ("no fent", "fent-free", "as strong as fentanyl", "tested negative for fentanyl")
DESCRIPTION = (
    "Welcome to my shop. All orders ship within 24h with tracking. Reship policy: one reship if lost. "
    "Please finalize after you receive. Vacuum sealed, mylar bags, no smell. PGP key on my profile."
)


def money(rng: random.Random, amount: float) -> str:
    style = rng.randrange(7)
    if style == 0:
        return f"${amount:.0f}"
    if style == 1:
        return f"{amount:.0f}$"
    if style == 2:
        return f"€{amount:.2f}"
    if style == 3:
        return f"{amount:.0f} EUR"
    if style == 4:
        return f"£{amount:.0f}"
    if style == 5:
        return f"₿{amount / 60000:.5f}"
    return f"{amount / 150:.3f} XMR"


def make_texts(n: int, seed: int) -> list[tuple[str, str | None]]:
    from onionwatch.extractors.lexicon import load_lexicon

    rng = random.Random(seed)
    names = sorted(load_lexicon().terms)
    out = []
    for _ in range(n):
        tpl = rng.choice(TEMPLATES)
        g = rng.choice((0.5, 1, 2, 3.5, 5, 7, 10, 28, 100))
        title = tpl.format(
            q=f"{g}g",
            drug=rng.choice(names).title() if rng.random() < 0.5 else rng.choice(names),
            adj=rng.choice(ADJ),
            price=money(rng, g * rng.uniform(8, 120)),
            country=rng.choice(COUNTRIES),
            dose=f"{rng.choice((1, 2, 10, 30, 80, 150))}mg",
            count=rng.choice((10, 20, 50, 100, 500)),
            form=rng.choice(FORMS),
            q1="1g",
            p1=money(rng, 40),
            q2="5g",
            p2=money(rng, 180),
            q3="10g",
            p3=money(rng, 320),
            neg=rng.choice(NEG),
            slang=rng.choice(SLANG),
            street=rng.choice(STREET),
        )
        description = DESCRIPTION if rng.random() < 0.4 else None
        out.append((title, description))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from onionwatch.extractors import enrich, get_pipeline, listing_text
    from onionwatch.models import Listing

    texts = make_texts(args.n, args.seed)
    now = datetime(2024, 6, 1, tzinfo=UTC)
    listings = [
        Listing(
            market="bench",
            listing_id=str(i),
            url="",
            title=t,
            description=d,
            crawled_at=now,
            page_sha256="0" * 64,
        )
        for i, (t, d) in enumerate(texts)
    ]
    joined = [listing_text(x) for x in listings]
    nlp = get_pipeline()
    enrich(listings[:200], nlp=nlp)  # warm-up: lazy converters, caches

    # CPU time of this process: other work on the machine does not move the ratio
    start = time.process_time()
    tokens = sum(len(doc) for doc in nlp.tokenizer.pipe(joined, batch_size=args.batch_size))
    tok_s = time.process_time() - start

    # the same pipeline with every component switched off: tokenizer + nlp.pipe machinery
    start = time.process_time()
    with nlp.select_pipes(disable=nlp.pipe_names):
        for _ in nlp.pipe(joined, batch_size=args.batch_size):
            pass
    pipe_s = time.process_time() - start

    start = time.process_time()
    enriched = enrich(listings, nlp=nlp, batch_size=args.batch_size)
    full_s = time.process_time() - start

    tok_rate = args.n / tok_s
    pipe_rate = args.n / pipe_s
    full_rate = args.n / full_s
    flagged = sum(e.enrichment.fentanyl_class for e in enriched)
    with_price = sum(bool(e.enrichment.prices) for e in enriched)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"listings: {args.n} ({tokens / args.n:.1f} tokens each), batch size {args.batch_size}")
    print(f"tokenizer only (nlp.tokenizer.pipe)        : {tok_rate:9.0f} listings/s ({tok_s:.2f} s CPU)")
    print(f"pipeline, components disabled (nlp.pipe)   : {pipe_rate:9.0f} listings/s ({pipe_s:.2f} s CPU)")
    print(f"enrich (all components, models built)      : {full_rate:9.0f} listings/s ({full_s:.2f} s CPU)")
    print(f"ratio enrich / tokenizer only              : {full_rate / tok_rate:.3f} (goal >= 0.33)")
    print(f"ratio enrich / pipeline, components off    : {full_rate / pipe_rate:.3f}")
    print(f"peak RSS: {rss_mb:.0f} MB")
    print(f"sanity: {flagged} fentanyl-class, {with_price} with a price")
    return 0


if __name__ == "__main__":
    sys.exit(main())
