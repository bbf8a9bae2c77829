"""SQLite-specific behaviour: two writer processes, threads, error translation, FTS quoting."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from onionwatch.errors import StoreError, StoreUnavailableError
from onionwatch.index.query import FACET_NAMES, FacetBucket, SearchQuery
from onionwatch.index.sqlite import SqliteStore
from onionwatch.models import EventKind, Observation, WriteResult

from .corpus import T0, listing


def _writer(path: str, worker: int, start: object, out: object) -> None:
    store = SqliteStore(Path(path))
    try:
        obs = [
            listing(
                "abacus",
                f"p{worker}-{j}",
                title="fent",
                vendor="SameVendor",
                at=T0 + timedelta(seconds=j),
                substances=("fentanyl",),
                crawl_id=f"proc-{worker}",
            )
            for j in range(20)
        ]
        start.wait()  # type: ignore[attr-defined]
        total = 0
        for o in obs:  # many small transactions, so the two processes interleave
            r = store.write([o])
            total += sum(e.kind == EventKind.NEW_VENDOR for e in r.events)
        out.put(total)  # type: ignore[attr-defined]
    finally:
        store.close()


def test_two_writer_processes_one_new_vendor(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    SqliteStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), i, start, out)) for i in range(2)]
    for p in procs:
        p.start()
    start.set()
    totals = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    out.close()
    out.join_thread()
    assert sum(totals) == 1
    with SqliteStore(path) as store:
        assert store.count_listings() == 40
        assert store.count_observations() == 40
        # the facet counts both processes' triggers kept equal a recount
        assert store.search(SearchQuery(facets=FACET_NAMES, limit=0)).facets == _recounted(store)
        assert store.search(SearchQuery(facets=("vendor",), limit=0)).facets["vendor"] == (
            FacetBucket(value="SameVendor", count=40),
        )


def test_usable_from_other_threads(sqlite_store: SqliteStore) -> None:
    results: list[WriteResult] = []

    def work(i: int) -> None:
        results.append(sqlite_store.write([listing("abacus", f"t{i}", title="x", vendor="V", at=T0)]))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sqlite_store.count_listings() == 8
    assert sum(e.kind == EventKind.NEW_VENDOR for r in results for e in r.events) == 1


def test_wal_mode(sqlite_store: SqliteStore) -> None:
    with sqlite3.connect(sqlite_store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_fts_syntax_in_user_text_is_quoted(sqlite_store: SqliteStore) -> None:
    sqlite_store.write([listing("abacus", "1", title='NEAR(a b) "x" title: * ^', vendor="V", at=T0)])
    for text in ["NEAR", '"NEAR(a"', "title:x", "a*", "^"]:
        sqlite_store.search(SearchQuery(text=text))  # must not raise an FTS5 syntax error
    assert sqlite_store.search(SearchQuery(text="near")).total == 1


def test_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite"
    SqliteStore(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreUnavailableError, match="locked"):
            SqliteStore(path, busy_timeout=0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "dir.sqlite")


def test_a_version_1_file_gets_the_supply_columns(tmp_path: Path) -> None:
    """A store written before issue 6 opens, keeps its listings, and takes the new fields."""
    path = tmp_path / "v1.sqlite"
    with SqliteStore(path) as store:
        store.write([listing("abacus", "1", title="1g fentanyl", vendor="Acme", at=T0)])
    conn = sqlite3.connect(path)
    _drop_version_3(conn)
    conn.execute("DROP INDEX listings_category")
    conn.execute("DROP INDEX listings_origin")
    for column in ("category", "origin", "origin_norm", "has_wallet", "international"):
        conn.execute(f"ALTER TABLE listings DROP COLUMN {column}")
    conn.execute("UPDATE meta SET value = '1' WHERE name = 'schema_version'")
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        assert store.count_listings() == 1
        assert store.search(SearchQuery(category="weapons")).total == 0
        store.write(
            [listing("abacus", "2", title="Glock 19", vendor="iron", at=T0, supply={"category": "weapons"})]
        )
        assert [h.listing.listing_id for h in store.search(SearchQuery(category="weapons")).hits] == ["2"]
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("3",)
    conn.close()


def _drop_version_3(conn: sqlite3.Connection) -> None:
    """Make a current file look like one written before schema version 3."""
    for (trigger,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {trigger}")
    conn.execute("DROP TABLE listing_facets")
    conn.execute("DROP TABLE facet_counts")
    for index in ("listings_first_seen", "listing_facets_value", "listing_ships_to_country"):
        conn.execute(f"DROP INDEX IF EXISTS {index}")
    conn.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")


def _recounted(store: SqliteStore) -> dict[str, tuple[FacetBucket, ...]]:
    """Facets of a filter that matches everything: counted from the matches, not facet_counts."""
    wide = SearchQuery(last_seen_from=T0 - timedelta(days=999), facets=FACET_NAMES, facet_size=100, limit=0)
    return store.search(wide).facets


def _store_corpus() -> list[Observation]:
    drugs = (("fentanyl",), ("heroin", "fentanyl"), ("cocaine",), ())
    return [
        listing(
            f"m{i % 3}",
            str(i),
            title=f"item {i}",
            vendor=None if i % 5 == 0 else f"V{i % 4}",
            at=T0 + timedelta(minutes=i),
            substances=drugs[i % 4],
            ships_from=("NL", "DE", None)[i % 3],
            supply={"category": "drugs"} if i % 2 else {"category": "weapons", "origin": "US"},
        )
        for i in range(30)
    ]


def test_a_version_2_file_gets_its_facet_tables_filled(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite"
    with SqliteStore(path) as store:
        store.write(_store_corpus())
        expected = _recounted(store)
    conn = sqlite3.connect(path)
    _drop_version_3(conn)
    conn.commit()
    conn.close()
    with SqliteStore(path) as store:
        everything = store.search(SearchQuery(facets=FACET_NAMES, facet_size=100, limit=0))
        assert everything.total == 30
        assert everything.facets == expected
        assert everything.facets["substance"][0] == FacetBucket(value="fentanyl", count=16)


def test_unfiltered_facets_stay_exact_through_updates(sqlite_store: SqliteStore) -> None:
    """facet_counts (kept by triggers) equals counting the matches after changes and re-crawls."""
    corpus = _store_corpus()
    sqlite_store.write(corpus)
    later = [
        listing(
            o.listing.market,
            o.listing.listing_id,
            title="moved",
            vendor="New",
            at=T0 + timedelta(days=1),
            substances=("mdma",),
            ships_from="UK",
            supply={"category": "drugs", "origin": "UK"},
        )
        for o in corpus[::3]
    ]
    sqlite_store.write(later)
    sqlite_store.write(corpus[1::3])  # older than what is stored: counted, the view does not change
    everything = sqlite_store.search(SearchQuery(facets=FACET_NAMES, facet_size=100, limit=0))
    assert everything.facets == _recounted(sqlite_store)
    assert FacetBucket(value="New", count=10) in everything.facets["vendor"]
    assert FacetBucket(value="mdma", count=10) in everything.facets["substance"]
    conn = sqlite_store._conn
    assert conn.execute("SELECT count(*) FROM facet_counts WHERE n < 0").fetchone() == (0,)


def test_unfiltered_search_pages_by_every_sort(sqlite_store: SqliteStore) -> None:
    corpus = _store_corpus()
    sqlite_store.write(corpus)
    wide = SearchQuery(last_seen_from=T0 - timedelta(days=1), limit=7, offset=3)
    for sort in ("last_seen", "first_seen", "price_per_gram", "-price_per_gram"):
        everything = sqlite_store.search(SearchQuery(sort=sort, limit=7, offset=3))
        filtered = sqlite_store.search(wide.model_copy(update={"sort": sort}))
        assert [h.listing.listing_id for h in everything.hits] == [
            h.listing.listing_id for h in filtered.hits
        ]
        assert everything.total == filtered.total == 30
