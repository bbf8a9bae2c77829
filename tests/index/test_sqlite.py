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


def _ranked_corpus() -> list[Observation]:
    """12 listings: "stealth" in all of them, "carfentanil" in three (1 to 3 times); some share a
    last-seen time. Newer titles are longer: FTS5's own BM25 would rank the shorter, older ones
    first among the common-word matches, so newest-first there is this store's rule, not a tie."""
    out = []
    for i in range(12):
        title = "stealth pack" + " lot" * i + " carfentanil" * {2: 1, 5: 3, 9: 2}.get(i, 0)
        out.append(listing("abacus", f"R{i:02d}", title=title, vendor=None, at=T0 + timedelta(hours=i // 2)))
    return out


def _newest_first(observations: list[Observation]) -> list[str]:
    ordered = sorted(observations, key=lambda o: o.listing.listing_id)
    ordered.sort(key=lambda o: o.observed_at, reverse=True)
    return [o.listing.listing_id for o in ordered]


def test_a_word_in_half_the_listings_does_not_rank(sqlite_store: SqliteStore) -> None:
    """FTS5 weighs such a word a millionth (clamped idf), so it is not scored: the listings with a
    rarer word come first, by BM25, and those with only common words follow, newest first."""
    corpus = _ranked_corpus()
    sqlite_store.write(corpus)
    ranked = sqlite_store.search(SearchQuery(text="stealth OR carfentanil", limit=100))
    ids = [h.listing.listing_id for h in ranked.hits]
    assert ranked.total == 12
    assert sorted(ids[:3]) == ["R02", "R05", "R09"]
    assert ids[3:] == [i for i in _newest_first(corpus) if i not in ("R02", "R05", "R09")]
    assert ids[:3] == [
        f"R{rid - 1:02d}"
        for (rid,) in sqlite_store._conn.execute(
            "SELECT rowid FROM listings_fts WHERE listings_fts MATCH 'carfentanil'"
            " ORDER BY bm25(listings_fts)"
        )
    ]
    common = sqlite_store.search(SearchQuery(text="stealth", limit=100))
    assert [h.listing.listing_id for h in common.hits] == _newest_first(corpus)


@pytest.mark.parametrize("sort", ["last_seen", "first_seen"])
def test_pages_found_through_the_sort_index_equal_the_sorted_matches(
    sqlite_store: SqliteStore, sort: str
) -> None:
    """Matches that are most of the listings are paged by walking the sort's index (ties by key)."""
    corpus = _ranked_corpus()
    sqlite_store.write(corpus)
    pack = SearchQuery(text="pack", sort=sort, limit=2)
    assert "INDEXED BY" in _page_sql_for(sqlite_store, pack)
    expected = _newest_first(corpus)
    for offset in range(12):
        page = sqlite_store.search(pack.model_copy(update={"limit": 2, "offset": offset}))
        assert [h.listing.listing_id for h in page.hits] == expected[offset : offset + 2]
        assert page.total == 12
    few = SearchQuery(text="carfentanil", sort=sort, limit=20)
    assert "INDEXED BY" not in _page_sql_for(sqlite_store, few)
    assert [h.listing.listing_id for h in sqlite_store.search(few).hits] == ["R09", "R05", "R02"]


def _page_sql_for(store: SqliteStore, query: SearchQuery) -> str:
    """The page query ``search`` would run for ``query`` (its matches counted here)."""
    from onionwatch.index.sqlite import _ORDER, _page_sql

    total = store.search(query.model_copy(update={"limit": 0})).total
    listings = store.count_listings()
    return _page_sql(_ORDER[query.sort], total, listings, query.limit + query.offset)
