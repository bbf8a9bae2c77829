"""Index throughput: our writers against the raw client, measured in one run.

    .venv/bin/python bench/index_throughput.py [--listings 20000] [--batch 500] [--es-url URL]
                                               [--warmup 5000]

Without --es-url it starts its own Elasticsearch (scripts/elasticsearch.sh) on a free port in
39200-39299 and stops it at the end. Both Elasticsearch paths first write --warmup other
observations untimed (a fresh JVM is slow for its first thousands of requests). Prints, for the
same generated observations:

- ElasticsearchStore.write docs/s (new listings, then a re-crawl of the same listings),
- raw ``helpers.bulk`` docs/s of the same documents our writer ends up storing (listing,
  observation and first-seen key documents; a client configured like the writer's), and the
  ratios writer / raw: observations/s against prebuilt documents (the strictest: raw does no
  Python work), observations/s when raw also builds its documents from the observations, and
  documents/s (the writer also keeps vendor and crawl-run documents),
- SqliteStore.write upserts/s (new, then re-crawl).

Stops by itself: every phase is bounded by --max-seconds (the listing count is reduced if needed).
"""

from __future__ import annotations

import argparse
import gc
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from elasticsearch import helpers

from onionwatch.index import derive, schema
from onionwatch.index.elasticsearch import ElasticsearchStore, _observation_doc, listing_doc, make_client
from onionwatch.index.sqlite import SqliteStore
from onionwatch.models import (
    DrugMention,
    Enrichment,
    Listing,
    Money,
    Observation,
    PriceMention,
    QuantityMention,
)
from onionwatch.settings import ElasticsearchSettings

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "elasticsearch.sh"
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DRUGS = [
    ("fentanyl", "fentanyl_class", "acetylfentanyl"),
    ("nitazene", "opioid", "isotonitazene"),
    ("heroin", "opioid", "heroin"),
    ("cocaine", "stimulant", "cocaine"),
    ("mdma", "empathogen", "mdma"),
    ("methamphetamine", "stimulant", "methamphetamine"),
    ("ketamine", "dissociative", "ketamine"),
    ("lsd", "psychedelic", "lsd"),
]
WORDS = [
    "pure",
    "stealth",
    "uncut",
    "lab",
    "tested",
    "express",
    "bulk",
    "sample",
    "premium",
    "fast",
    "shipping",
    "crystal",
    "rock",
    "pills",
    "tabs",
]
COUNTRIES = ["NL", "DE", "US", "UK", "CA", "FR", "ES", "PL", "CN", "IN"]


def generate(
    n: int,
    *,
    seed: int = 1,
    markets: int = 8,
    vendors: int = 400,
    crawl: str = "c1",
    start: int = 0,
    at: datetime = T0,
) -> list[Observation]:
    rng = random.Random(seed * 1_000_003 + start)
    out = []
    for i in range(start, start + n):
        drug_id, cls, name = DRUGS[rng.randrange(len(DRUGS))]
        grams = Decimal(rng.choice(("0.5", "1", "3.5", "7", "14", "28")))
        usd = (Decimal(rng.randrange(5, 200)) * grams).quantize(Decimal("0.01"))
        market = f"market{i % markets}"
        vendor = f"vendor{rng.randrange(vendors)}"
        title = f"{grams}g {name} {' '.join(rng.sample(WORDS, 3))}"
        observed = at + timedelta(seconds=i)
        out.append(
            Observation(
                crawl_id=crawl,
                observed_at=observed,
                listing=Listing(
                    market=market,
                    listing_id=f"{i:07d}",
                    url=f"http://{market}.onion/l/{i}",
                    title=title,
                    description=" ".join(rng.sample(WORDS, 8)),
                    vendor=vendor,
                    price=Money(amount=usd, currency="USD"),
                    ships_from=rng.choice(COUNTRIES),
                    ships_to=tuple(rng.sample(COUNTRIES, 2)),
                    crawled_at=observed,
                    page_sha256=derive.first_seen_id("page", crawl, str(i)).ljust(64, "0")[:64],
                ),
                enrichment=Enrichment(
                    drugs=(DrugMention(id=drug_id, name=name, cls=cls, text=name, start=0, end=len(name)),),
                    fentanyl_class=cls == "fentanyl_class",
                    quantities=(QuantityMention(value=grams, unit="g", text=f"{grams}g"),),
                    prices=(
                        PriceMention(
                            amount=usd,
                            currency="USD",
                            usd=usd,
                            per="listing",
                            quantity_index=0,
                            text=f"${usd}",
                        ),
                    ),
                    vendor=vendor,
                ),
            )
        )
    return out


def recrawl(observations: list[Observation], crawl: str) -> list[Observation]:
    later = timedelta(days=1)
    return [
        o.model_copy(update={"crawl_id": crawl, "observed_at": o.observed_at + later}) for o in observations
    ]


def free_port() -> int:
    for port in range(39200, 39300):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free port in 39200-39299")


class OwnElasticsearch:
    def __init__(self) -> None:
        self.port = free_port()

    def __enter__(self) -> str:
        subprocess.run(["bash", str(SCRIPT), "fetch"], check=True, capture_output=True, timeout=900)
        t0 = time.monotonic()
        subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.port)], check=True, capture_output=True, timeout=300
        )
        print(f"elasticsearch started on port {self.port} in {time.monotonic() - t0:.1f}s")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.port)], capture_output=True, timeout=120)
        subprocess.run(["bash", str(SCRIPT), "clean", str(self.port)], capture_output=True, timeout=60)


def raw_documents(observations: list[Observation], raw: str) -> list[dict[str, Any]]:
    """The documents ElasticsearchStore stores for new listings (listing, observation, first-seen
    keys), built the way it builds them, as ``helpers.bulk`` actions into the ``raw`` prefix."""
    docs: list[dict[str, Any]] = []
    seen_keys: set[str] = set()
    for o in observations:
        at = derive.iso(o.observed_at)
        docs.append(
            {
                "_index": schema.LISTINGS.index(raw),
                "_id": derive.first_seen_id("listing", o.key),
                "_source": listing_doc(o, first_seen=at, last_seen=at, prev_price=None),
            }
        )
        docs.append(
            {
                "_index": schema.observation_index(raw, o.observed_at),
                "_id": derive.observation_id(o),
                "_source": _observation_doc(o),
            }
        )
        vendor = derive.norm_key(o.listing.vendor) or ""
        for kind, key in (
            ("new_listing", o.key),
            ("new_vendor", vendor),
            ("new_vendor_market", f"{vendor}\x1f{o.listing.market}"),
            ("new_vendor_substance", f"{vendor}\x1f{o.enrichment.substances[0]}"),
        ):
            doc_id = derive.first_seen_id(kind, key)
            if doc_id not in seen_keys:
                seen_keys.add(doc_id)
                docs.append(
                    {
                        "_index": schema.FIRST_SEEN.index(raw),
                        "_id": doc_id,
                        "_op_type": "create",
                        "_source": {
                            "kind": kind,
                            "key": doc_id,
                            "market": o.listing.market,
                            "first_seen": at,
                            "crawl_id": o.crawl_id,
                            "observation_id": derive.observation_id(o),
                            "baseline": False,
                        },
                    }
                )
    return docs


def timed_writes(write: Any, observations: list[Observation], batch: int, budget: float) -> tuple[int, float]:
    done, t0 = 0, time.monotonic()
    for i in range(0, len(observations), batch):
        write(observations[i : i + batch])
        done += len(observations[i : i + batch])
        if time.monotonic() - t0 > budget:
            break
    return done, time.monotonic() - t0


def warm_up(url: str, client: Any, prefix: str, spool: Path, warmup: int, batch: int) -> None:
    """Untimed writes of other listings through both paths first. A fresh JVM compiles its hot
    loops during the first thousands of requests: without this, the pass timed first (the
    writer's) pays for the warm-up of both, which moved the ratio by up to 2x."""
    if warmup <= 0:
        return
    t0 = time.monotonic()
    observations = generate(warmup, seed=2, crawl="warm", start=10_000_000)
    warm = f"{prefix}-warm"
    with ElasticsearchStore(ElasticsearchSettings(url=url, index_prefix=warm), spool_dir=spool) as store:
        store.setup()
        for i in range(0, len(observations), batch):
            store.write(observations[i : i + batch])
    for spec in (schema.LISTINGS, schema.OBSERVATIONS, schema.FIRST_SEEN):
        client.indices.put_index_template(**schema.index_template(spec, f"{warm}-raw"))
    helpers.bulk(client, raw_documents(observations, f"{warm}-raw"), chunk_size=batch * 3)
    print(f"warm-up: {warmup} observations through the writer and raw bulk in {time.monotonic() - t0:.1f}s")


def bench_es(url: str, observations: list[Observation], batch: int, budget: float, warmup: int) -> None:
    prefix = f"owbench-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="owbench-"))
    store = ElasticsearchStore(ElasticsearchSettings(url=url, index_prefix=prefix), spool_dir=tmp)
    # the raw client is configured like the writer's (same serializer, timeouts): the ratio then
    # measures what the writer does on top of bulk, not client settings
    client = make_client(ElasticsearchSettings(url=url, request_timeout=120))
    try:
        warm_up(url, client, prefix, tmp / "warm", warmup, batch)
        store.setup()
        n, secs = timed_writes(store.write, observations, batch, budget)
        writer_rate = n / secs
        # every document the writer stored in that pass, vendors and crawl runs included
        writer_docs = sum(v for k, v in store.stats.items() if k.startswith("bulk/"))
        print(
            f"ElasticsearchStore.write, new listings: {n} obs in {secs:.2f}s = {writer_rate:,.0f} obs/s"
            f" ({writer_docs} documents, {writer_docs / secs:,.0f} docs/s)"
        )
        n2, secs2 = timed_writes(store.write, recrawl(observations[:n], "c2"), batch, budget)
        print(f"ElasticsearchStore.write, re-crawl:     {n2} obs in {secs2:.2f}s = {n2 / secs2:,.0f} obs/s")

        # Raw bulk of the same documents the writer stored for the first pass (listing,
        # observation, first-seen keys), into indices with the same templates.
        raw = f"{prefix}-raw"
        for spec in (schema.LISTINGS, schema.OBSERVATIONS, schema.FIRST_SEEN):
            client.indices.put_index_template(**schema.index_template(spec, raw))
        t_build = time.monotonic()
        docs = raw_documents(observations[:n], raw)
        build_secs = time.monotonic() - t_build
        t0 = time.monotonic()
        ok, _errors = helpers.bulk(client, docs, chunk_size=batch * 3, raise_on_error=False)
        raw_secs = time.monotonic() - t0
        raw_rate = n / raw_secs
        built_rate = n / (raw_secs + build_secs)
        print(
            f"raw helpers.bulk of the same {len(docs)} documents ({ok} ok) for {n} observations: "
            f"{raw_secs:.2f}s = {raw_rate:,.0f} obs/s ({len(docs) / raw_secs:,.0f} docs/s)"
        )
        print(
            f"raw including building those documents in Python ({build_secs:.2f}s): {built_rate:,.0f} obs/s"
        )
        print(
            f"ratio writer / raw bulk (new listings): {writer_rate / raw_rate:.2f} obs/s with prebuilt"
            f" documents, {writer_rate / built_rate:.2f} obs/s including document building,"
            f" {writer_docs / secs / (len(docs) / raw_secs):.2f} docs/s"
        )
        print(f"writer per-item accounting: {dict(sorted(store.stats.items()))}")
    finally:
        store.close()
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
        client.indices.delete_index_template(name=f"{prefix}*")
        client.close()


def bench_sqlite(observations: list[Observation], batch: int, budget: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "bench.sqlite") as store:
        n, secs = timed_writes(store.write, observations, batch, budget)
        print(f"SqliteStore.write, new listings: {n} in {secs:.2f}s = {n / secs:,.0f} upserts/s")
        n2, secs2 = timed_writes(store.write, recrawl(observations[:n], "c2"), batch, budget)
        print(f"SqliteStore.write, re-crawl:     {n2} in {secs2:.2f}s = {n2 / secs2:,.0f} upserts/s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--es-url", default=None, help="use this Elasticsearch instead of starting one")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="budget per phase")
    parser.add_argument("--skip-es", action="store_true")
    parser.add_argument(
        "--warmup", type=int, default=5_000, help="untimed observations written by both paths first"
    )
    args = parser.parse_args()
    t0 = time.monotonic()
    observations = generate(args.listings)
    # The generated input stays alive for the whole run (in a crawl, batches stream through and
    # die): frozen, the cyclic collector does not rescan its objects on every collection, which
    # otherwise grows every phase's time with --listings.
    gc.freeze()
    print(
        f"generated {len(observations)} observations in {time.monotonic() - t0:.1f}s "
        f"(batch {args.batch}, {sys.version.split()[0]})"
    )
    bench_sqlite(observations, args.batch, args.max_seconds)
    if args.skip_es:
        return
    if args.es_url:
        bench_es(args.es_url, observations, args.batch, args.max_seconds, args.warmup)
    else:
        with OwnElasticsearch() as url:
            bench_es(url, observations, args.batch, args.max_seconds, args.warmup)


if __name__ == "__main__":
    main()
