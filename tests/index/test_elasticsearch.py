"""Elasticsearch-specific behaviour against the real server: client compatibility, the spool,
a server stopped mid-write, alias migration, bad input."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from onionwatch.errors import StoreError, StoreUnavailableError
from onionwatch.index import schema
from onionwatch.index.elasticsearch import ElasticsearchStore, redact_url
from onionwatch.index.query import FACET_NAMES, SearchQuery
from onionwatch.models import EventKind
from onionwatch.settings import ElasticsearchSettings

from .conftest import SCRIPT, free_port, stop_es
from .corpus import T0, corpus, listing

pytestmark = pytest.mark.es


@pytest.fixture
def prefix(es_url: str) -> Iterator[str]:
    name = f"owtest-{uuid.uuid4().hex[:10]}"
    yield name
    with Elasticsearch(es_url) as client:
        client.indices.delete(index=f"{name}*", expand_wildcards="all", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=f"{name}*")


def make_store(url: str, prefix: str, tmp_path: Path, **kw: Any) -> ElasticsearchStore:
    return ElasticsearchStore(
        ElasticsearchSettings(url=url, index_prefix=prefix, request_timeout=5),
        spool_dir=tmp_path / "spool",
        **kw,
    )


def test_python_client_9_talks_to_the_server(es_url: str) -> None:
    with Elasticsearch(es_url) as client:
        # The client's product check passed if this returns; the header is what it checks.
        health = client.cluster.health()
        assert health.meta.headers["x-elastic-product"] == "Elasticsearch"
        assert health["status"] in ("green", "yellow")
        nodes = client.nodes.info()
        versions = {n["version"] for n in nodes["nodes"].values()}
        assert all(v.startswith("9.") for v in versions), versions
        # The client sends "compatible-with=9" on every request (see the cassettes); the server
        # honours the header: 8 is accepted (REST compatibility N-1), 7 is refused.
        for major, status in ((9, 200), (8, 200), (7, 400)):
            accept = f"application/vnd.elasticsearch+json; compatible-with={major}"
            resp = client.options(ignore_status=400).perform_request(
                "GET", "/_cluster/health", headers={"accept": accept}
            )
            assert resp.meta.status == status, major


def test_spool_when_unreachable_then_replay(es_url: str, prefix: str, tmp_path: Path) -> None:
    dead = make_store(f"http://127.0.0.1:{free_port()}", prefix, tmp_path)
    batch = corpus(10)
    with pytest.raises(StoreUnavailableError, match="spooled"):
        dead.write(batch[:6])
    with pytest.raises(StoreUnavailableError):
        dead.write(batch[6:])
    assert dead.spool.pending() == 10
    dead.close()

    live = make_store(es_url, prefix, tmp_path, refresh=True)
    try:
        result = live.flush_spool()
        assert result.written == 10
        assert sum(e.kind == EventKind.NEW_LISTING for e in result.events) == 10
        assert live.spool.pending() == 0
        assert live.count_listings() == 10
        assert live.count_observations() == 10
        again = live.write(batch)  # the same observations once more: nothing duplicated
        assert (again.written, again.events) == (0, ())
        assert live.count_observations() == 10
    finally:
        live.close()


def test_crash_between_keys_and_observations_reports_events_once(
    es_url: str, prefix: str, tmp_path: Path
) -> None:
    """A batch half-applied by a crashed writer is completed by its replay, and its events surface."""
    store = make_store(es_url, prefix, tmp_path, refresh=True)
    try:
        obs = listing("abacus", "1", title="fent", vendor="Crash", at=T0, substances=("fentanyl",))
        original = store._bulk
        calls = {"n": 0}

        def failing_bulk(actions: list[dict[str, Any]], action: str) -> dict[str, dict[str, Any]]:
            if action == "write observations":
                calls["n"] += 1
                raise StoreUnavailableError("simulated outage")
            return original(actions, action)

        store._bulk = failing_bulk  # type: ignore[method-assign]
        with pytest.raises(StoreUnavailableError):
            store.write([obs])
        store._bulk = original  # type: ignore[method-assign]
        assert calls["n"] == 1
        result = store.flush_spool()
        assert sorted(e.kind.value for e in result.events) == [
            "new_listing",
            "new_vendor",
            "new_vendor_market",
            "new_vendor_substance",
        ]
        assert store.write([obs]).events == ()
        assert store.count_observations() == 1
    finally:
        store.close()


def _script(*args: str) -> None:
    proc = subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_server_stopped_mid_write_every_listing_indexed_once(tmp_path: Path, es_url: str) -> None:
    """Kill the server while a writer streams batches; restart it; nothing lost, nothing doubled."""
    port = free_port()
    stop_es(port)
    _script("start", str(port))
    url = f"http://127.0.0.1:{port}"
    store = make_store(url, "owfault", tmp_path)
    batches = [
        [
            listing(
                "abacus",
                f"b{b:03d}-{i:03d}",
                title=f"listing {b} {i}",
                vendor=f"v{i % 7}",
                at=T0 + timedelta(seconds=b),
                substances=("cocaine",),
                crawl_id=f"c{b}",
            )
            for i in range(40)
        ]
        for b in range(60)
    ]
    events: Counter[str] = Counter()
    spooled = 0
    stopped = threading.Event()
    try:
        store.setup()

        def stopper() -> None:
            time.sleep(1.5)
            _script("stop", str(port))
            stopped.set()

        thread = threading.Thread(target=stopper)
        thread.start()
        for i, batch in enumerate(batches):
            if i == 45:
                thread.join()  # the remaining batches are written while the server is down
            try:
                result = store.write(batch)
                events.update(e.kind.value for e in result.events)
            except StoreUnavailableError:
                spooled += 1
        assert stopped.is_set()
        assert spooled > 0, "the server stop did not hit any write"
        assert store.spool.pending() > 0
        _script("start", str(port))
        deadline = time.monotonic() + 120
        while True:
            try:
                result = store.flush_spool()
                events.update(e.kind.value for e in result.events)
                break
            except StoreUnavailableError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        assert store.spool.pending() == 0
        store.client.indices.refresh(index="owfault-*")
        total = sum(len(b) for b in batches)
        assert store.count_listings() == total
        assert store.count_observations() == total
        # Every listing exactly once, with exactly one observation, and one "new listing" event each.
        counts = store._observation_counts([o.key for o in batches[0]] + [o.key for o in batches[-1]])
        assert set(counts.values()) == {1}
        assert events["new_listing"] == total
        assert events["new_vendor"] == 7
    finally:
        store.close()
        stop_es(port)


def test_migrate_switches_alias_and_keeps_results(es_url: str, prefix: str, tmp_path: Path) -> None:
    store = make_store(es_url, prefix, tmp_path, refresh=True)
    try:
        store.write(corpus())
        query = SearchQuery(
            text="pure OR stealth", facets=("market", "substance"), sort="last_seen", limit=100
        )
        before = store.search(query)
        old, new, copied = store.migrate_listings()
        assert (old, new, copied) == (f"{prefix}-listings-v1", f"{prefix}-listings-v2", 60)
        assert store.current_index(schema.LISTINGS) == new
        after = store.search(query)
        assert after == before
        # Writes keep working through the alias.
        store.write([listing("abacus", "after-migration", title="x", vendor="V", at=T0)])
        assert store.count_listings() == 61
        with pytest.raises(StoreError, match="already points"):
            store.migrate_listings(2)
    finally:
        store.close()


def test_invalid_index_prefix_is_a_store_error(es_url: str, tmp_path: Path) -> None:
    store = make_store(es_url, "Bad Prefix", tmp_path)
    try:
        with pytest.raises(StoreError, match="400"):
            store.setup()
    finally:
        store.close()


def test_odd_ids_and_text_round_trip(es_url: str, prefix: str, tmp_path: Path) -> None:
    store = make_store(es_url, prefix, tmp_path, refresh=True)
    try:
        weird = listing(
            "abacus",
            "a/b c?d#é" + "x" * 600,
            title='"quoted" <b>tags</b> 💊 {json: 1}',
            vendor="名前",
            at=T0,
            description="\x00-free but long " * 500,
        )
        store.write([weird])
        got = store.get("abacus", weird.listing.listing_id)
        assert got is not None and got.listing == weird.listing
        assert store.search(SearchQuery(text="tags")).total == 1
        assert store.search(SearchQuery(vendor="名前")).total == 1
    finally:
        store.close()


def test_secrets_never_in_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = ElasticsearchSettings(
        url=f"http://user:hunter2@127.0.0.1:{port}",
        api_key="c2VjcmV0LWtleQ==",
        index_prefix="x",
        request_timeout=1,
    )
    store = ElasticsearchStore(settings, spool_dir=tmp_path)
    caplog.set_level("DEBUG")
    try:
        with pytest.raises(StoreUnavailableError) as info:
            store.setup()
        assert "hunter2" not in str(info.value) and "c2VjcmV0" not in str(info.value)
        assert "***@127.0.0.1" in str(info.value)
    finally:
        store.close()
    assert "hunter2" not in caplog.text and "c2VjcmV0" not in caplog.text
    assert redact_url("https://a:b@h:9200/p") == "https://***@h:9200/p"


def test_observations_are_partitioned_by_month(es_url: str, prefix: str, tmp_path: Path) -> None:
    store = make_store(es_url, prefix, tmp_path, refresh=True)
    try:
        store.write(
            [
                listing("abacus", "1", title="a", vendor="V", at=T0),
                listing("abacus", "1", title="a", vendor="V", at=T0 + timedelta(days=40), crawl_id="c2"),
            ]
        )
        names = sorted(store.client.indices.get(index=f"{prefix}-observations-*").body)
        assert names == [f"{prefix}-observations-v1-2026.11", f"{prefix}-observations-v1-2026.12"]
        assert store.count_observations() == 2
    finally:
        store.close()


def test_index_cli_setup_migrate_search(
    es_url: str, prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from onionwatch.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONIONWATCH_STORE__BACKEND", "elasticsearch")
    monkeypatch.setenv("ONIONWATCH_STORE__ELASTICSEARCH__URL", es_url)
    monkeypatch.setenv("ONIONWATCH_STORE__ELASTICSEARCH__INDEX_PREFIX", prefix)
    monkeypatch.setenv("ONIONWATCH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    for _ in range(2):  # idempotent
        out = runner.invoke(app, ["index", "setup"])
        assert out.exit_code == 0, out.output
    with make_store(es_url, prefix, tmp_path, refresh=True) as store:
        store.write(corpus(12))
    out = runner.invoke(app, ["index", "migrate"])
    assert out.exit_code == 0, out.output
    assert f"copied 12 listings from {prefix}-listings-v1 to {prefix}-listings-v2" in out.output
    out = runner.invoke(app, ["index", "status"])
    assert f"{prefix}-listings -> {prefix}-listings-v2" in out.output
    out = runner.invoke(app, ["search", "--json", "--facet", "market"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"] == 12
    out = runner.invoke(app, ["search", "--all", "--csv"])
    assert len(out.output.strip().splitlines()) == 13


def test_backends_return_identical_results(es_url: str, prefix: str, tmp_path: Path) -> None:
    """The same corpus and queries on SQLite and Elasticsearch: same totals, hits, order, facets."""
    from onionwatch.index.sqlite import SqliteStore

    from .test_store_contract import QUERIES

    data = corpus()
    with SqliteStore(tmp_path / "x.sqlite") as lite, make_store(es_url, prefix, tmp_path, refresh=True) as es:
        assert lite.write(data).events == es.write(data).events
        # A re-crawl: some prices move, some listings gain a substance (price change + new
        # vendor x substance from one observation), one listing arrives late.
        recrawl = []
        for i, o in enumerate(data):
            subs = o.enrichment.substances + (
                ("ketamine",) if i % 4 == 0 and "heroin" not in o.enrichment.substances else ()
            )
            price = o.listing.price.amount + i % 3 if o.listing.price is not None else None
            grams = o.enrichment.quantities[0].value if o.enrichment.quantities else None
            recrawl.append(
                listing(
                    o.listing.market,
                    o.listing.listing_id,
                    title=o.listing.title,
                    vendor=o.listing.vendor,
                    at=o.observed_at + timedelta(days=3 if i != 7 else -3),
                    substances=subs,
                    price_usd=price,
                    grams=grams,
                    description=o.listing.description,
                    ships_from=o.listing.ships_from,
                    ships_to=o.listing.ships_to,
                    crawl_id="recrawl",
                )
            )
        a_events, b_events = lite.write(recrawl).events, es.write(recrawl).events
        assert a_events == b_events
        assert {e.kind for e in a_events} >= {EventKind.PRICE_CHANGE, EventKind.NEW_VENDOR_SUBSTANCE}
        for spec in QUERIES:
            for sort in ("last_seen", "first_seen", "price_per_gram", "-price_per_gram"):
                query = SearchQuery(
                    sort=sort,
                    limit=25,
                    offset=5,
                    facets=FACET_NAMES,
                    **spec,
                )
                a, b = lite.search(query), es.search(query)
                assert a == b, (spec, sort)
        assert lite.vendors() == es.vendors()
        assert lite.vendor_profile("greendragon") == es.vendor_profile("GreenDragon")
        assert list(lite.export(SearchQuery(text="NOT pure"))) == list(
            es.export(SearchQuery(text="NOT pure"))
        )


def test_refused_spooled_batch_is_set_aside(es_url: str, prefix: str, tmp_path: Path) -> None:
    dead = make_store(f"http://127.0.0.1:{free_port()}", prefix, tmp_path)
    data = corpus(6)
    for part in (data[:3], data[3:]):
        with pytest.raises(StoreUnavailableError):
            dead.write(part)
    dead.close()
    live = make_store(es_url, prefix, tmp_path, refresh=True)
    original = live._apply
    calls = {"n": 0}

    def refuse_first(batch: Any, baseline: bool, *, recovering: bool = False) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreError("elasticsearch write state: 400 mapper_parsing_exception")
        return original(batch, baseline, recovering=recovering)

    live._apply = refuse_first  # type: ignore[method-assign]
    try:
        result = live.flush_spool()
        assert result.written == 3
        assert live.spool.dead() == 1 and live.spool.pending() == 0
        assert live.count_listings() == 3
    finally:
        live.close()
