"""Search latency: p50/p95 of a fixed set of analyst queries (with facets) on both backends.

    .venv/bin/python bench/search_latency.py [--listings 100000] [--runs 20] [--warmup 5]
                                             [--es-url URL] [--max-load-seconds 300]
                                             [--skip-es] [--skip-sqlite]

Generates listings (bench/index_throughput.generate), loads them, runs --warmup untimed rounds of
all queries, then runs every query --runs times and prints p50/p95 per query and overall. Loading
is bounded by --max-load-seconds per backend: when the budget runs out, the benchmark searches what
was loaded and says how many listings that was (1M listings load into Elasticsearch in about 330 s
on a 2-core machine: pass --max-load-seconds 1800 with --listings 1000000).

SQLite is loaded through SqliteStore.write (the real write path). Elasticsearch is loaded with
raw ``helpers.bulk`` of exactly the documents ElasticsearchStore writes (listing + observation
documents, same templates and aliases), which is ~2x faster than the full writer and measures the
same search path. Without --es-url a private Elasticsearch is started and stopped (scripts/).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from elasticsearch import helpers
from index_throughput import T0, OwnElasticsearch, generate

from onionwatch.index import derive, schema
from onionwatch.index.elasticsearch import ElasticsearchStore, _observation_doc, listing_doc
from onionwatch.index.query import FACET_NAMES, SearchQuery
from onionwatch.index.sqlite import SqliteStore
from onionwatch.settings import ElasticsearchSettings

CHUNK = 5_000
ALL_FACETS = FACET_NAMES

QUERIES: dict[str, SearchQuery] = {
    "fentanyl + all facets": SearchQuery(text="fentanyl", facets=ALL_FACETS),
    "phrase + class filter": SearchQuery(text='"lab tested"', substance_class="opioid", facets=("vendor",)),
    "class:opioid -sample, $/g range": SearchQuery(
        text="class:opioid -sample", price_per_gram_min=Decimal(20), price_per_gram_max=Decimal(80)
    ),
    "vendor profile listings": SearchQuery(vendor="vendor123", facets=("market", "substance")),
    "market + last_seen + price sort": SearchQuery(
        market="market3", last_seen_from=T0, sort="price_per_gram", facets=("ships_from",)
    ),
    "OR, relevance, market facet": SearchQuery(text="pure OR stealth", facets=("market",)),
    "match all, newest, all facets": SearchQuery(facets=ALL_FACETS),
    "nitazenes from NL": SearchQuery(
        text="isotonitazene OR protonitazene", ships_from="NL", facets=("vendor",)
    ),
    "deep page": SearchQuery(text="crystal", offset=2000, limit=50),
}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def measure(name: str, search: Callable[[SearchQuery], Any], runs: int, warmup: int) -> list[float]:
    print(f"\n{name}: p50 / p95 / hits (ms over {runs} runs, after {warmup} warm-up rounds of all queries)")
    # A server that has just loaded and merged its index answers its first searches cold (a fresh
    # JVM compiles its hot loops after some thousand calls): time it as it runs in service.
    for _ in range(warmup):
        for query in QUERIES.values():
            search(query)
    everything: list[float] = []
    for label, query in QUERIES.items():
        result = search(query)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            search(query)
            times.append((time.perf_counter() - t0) * 1000)
        everything.extend(times)
        print(
            f"  {label:<34} {statistics.median(times):7.1f} / {percentile(times, 0.95):7.1f}"
            f"  total={result.total}"
        )
    print(f"  {'ALL QUERIES':<34} {statistics.median(everything):7.1f} / {percentile(everything, 0.95):7.1f}")
    return everything


def load_sqlite(store: SqliteStore, n: int, budget: float) -> int:
    t0, done = time.monotonic(), 0
    while done < n and time.monotonic() - t0 < budget:
        batch = generate(min(CHUNK, n - done), start=done)
        for i in range(0, len(batch), 500):
            store.write(batch[i : i + 500])
        done += len(batch)
    print(f"sqlite: loaded {done} listings in {time.monotonic() - t0:.1f}s")
    return done


def load_es(store: ElasticsearchStore, n: int, budget: float) -> int:
    t0, done = time.monotonic(), 0
    listings_index = store.alias(schema.LISTINGS)
    while done < n and time.monotonic() - t0 < budget:
        batch = generate(min(CHUNK, n - done), start=done)
        actions: list[dict[str, Any]] = []
        for o in batch:
            at = derive.iso(o.observed_at)
            actions.append(
                {
                    "_index": listings_index,
                    "_id": derive.first_seen_id("listing", o.key),
                    "_source": listing_doc(o, first_seen=at, last_seen=at, prev_price=None),
                }
            )
            actions.append(
                {
                    "_index": schema.observation_index(store.prefix, o.observed_at),
                    "_id": derive.observation_id(o),
                    "_source": _observation_doc(o),
                }
            )
        helpers.bulk(store.client.options(request_timeout=120), actions, chunk_size=2000)
        done += len(batch)
    store.client.indices.refresh(index=f"{store.prefix}-*")
    print(
        f"elasticsearch: loaded {done} listings in {time.monotonic() - t0:.1f}s"
        " (raw bulk of writer documents)"
    )
    return done


def bench_es(url: str, n: int, runs: int, budget: float, warmup: int) -> None:
    prefix = f"owlat-{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="owlat-"))
    store = ElasticsearchStore(
        ElasticsearchSettings(url=url, index_prefix=prefix, request_timeout=120), spool_dir=tmp
    )
    try:
        store.setup()
        loaded = load_es(store, n, budget)
        store.client.options(request_timeout=600).indices.forcemerge(index=f"{prefix}-*", max_num_segments=1)
        # The shard request cache answers a repeated size-0 search (the total + facets half of
        # every search) from memory: each run would then time the cache, not the search.
        store.client.indices.put_settings(
            index=f"{prefix}-*", settings={"index.requests.cache.enable": False}
        )
        measure(f"elasticsearch, {loaded} listings", store.search, runs, warmup)
    finally:
        store.client.indices.delete(index=f"{prefix}-*", expand_wildcards="all", ignore_unavailable=True)
        store.client.indices.delete_index_template(name=f"{prefix}-*")
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds of all queries first")
    parser.add_argument("--max-load-seconds", type=float, default=300.0)
    parser.add_argument("--es-url", default=None)
    parser.add_argument("--skip-es", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "latency.sqlite") as store:
            loaded = load_sqlite(store, args.listings, args.max_load_seconds)
            measure(f"sqlite, {loaded} listings", store.search, args.runs, args.warmup)
    if args.skip_es:
        return
    if args.es_url:
        bench_es(args.es_url, args.listings, args.runs, args.max_load_seconds, args.warmup)
    else:
        with OwnElasticsearch() as url:
            bench_es(url, args.listings, args.runs, args.max_load_seconds, args.warmup)


if __name__ == "__main__":
    main()
