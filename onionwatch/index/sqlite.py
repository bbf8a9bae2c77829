"""The embedded store: one SQLite file (WAL), stdlib ``sqlite3``, FTS5 for free text.

Tables: ``observations`` (append-only, deterministic ids), ``listings`` (latest view),
``listing_substances`` / ``listing_ships_to`` (filter and facet side tables), ``vendors``
(per market), ``first_seen`` (create-only keys: a successful insert *is* the "new" decision),
``crawl_runs`` and ``listings_fts``. Every write is one ``BEGIN IMMEDIATE`` transaction, so two
writer processes serialise on the database lock (busy timeout) and exactly one of them creates a
given first-seen key. One connection is shared by all threads behind a lock: Scrapy pipelines call
the store from a thread pool, never from the reactor thread.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from onionwatch.errors import StoreError, StoreUnavailableError
from onionwatch.index import derive, identity
from onionwatch.index.profile import PricePoint, VendorMarket, VendorProfile, add_price_points
from onionwatch.index.query import (
    And,
    FacetBucket,
    Keyword,
    MatchNone,
    Node,
    Not,
    Or,
    SearchQuery,
    SearchResult,
    Text,
    positive_texts,
)
from onionwatch.models import (
    EnrichedVendorPage,
    Enrichment,
    Event,
    EventKind,
    Listing,
    Money,
    Observation,
    StoredListing,
    Vendor,
    WriteResult,
    listing_key,
)

log = logging.getLogger(__name__)

#: 2: supply-chain columns (category, origin, has_wallet, international), listing_terms and
#: vendor_identifiers; a version-1 file gets them added in place by setup.
#: 3: listing_facets and facet_counts (kept by triggers); setup fills them from an older file.
SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS observations (
    id TEXT PRIMARY KEY,
    listing_key TEXT NOT NULL,
    market TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    observed_at TEXT NOT NULL,
    vendor_norm TEXT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS observations_listing ON observations (listing_key, observed_at);
CREATE INDEX IF NOT EXISTS observations_vendor ON observations (vendor_norm, observed_at);
CREATE INDEX IF NOT EXISTS observations_market ON observations (market);
CREATE TABLE IF NOT EXISTS listings (
    key TEXT PRIMARY KEY,
    market TEXT NOT NULL,
    market_norm TEXT NOT NULL,
    listing_id TEXT NOT NULL,
    vendor TEXT,
    vendor_norm TEXT,
    ships_from TEXT,
    ships_from_norm TEXT,
    price_per_gram_usd REAL,
    price_amount TEXT,
    price_currency TEXT,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    observations INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    category TEXT,
    origin TEXT,
    origin_norm TEXT,
    has_wallet INTEGER NOT NULL DEFAULT 0,
    international INTEGER,
    -- last: reading a column stored after this multi-kilobyte JSON walks its overflow pages
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_market ON listings (market_norm, last_seen);
CREATE INDEX IF NOT EXISTS listings_vendor ON listings (vendor_norm);
CREATE INDEX IF NOT EXISTS listings_last_seen ON listings (last_seen);
CREATE TABLE IF NOT EXISTS listing_substances (
    listing_key TEXT NOT NULL,
    substance TEXT NOT NULL,
    name_norm TEXT NOT NULL,
    class TEXT NOT NULL,
    PRIMARY KEY (listing_key, substance, name_norm, class)
);
CREATE INDEX IF NOT EXISTS listing_substances_substance ON listing_substances (substance);
CREATE INDEX IF NOT EXISTS listing_substances_name ON listing_substances (name_norm);
CREATE INDEX IF NOT EXISTS listing_substances_class ON listing_substances (class);
CREATE TABLE IF NOT EXISTS listing_ships_to (
    listing_key TEXT NOT NULL,
    country_norm TEXT NOT NULL,
    PRIMARY KEY (listing_key, country_norm)
);
CREATE TABLE IF NOT EXISTS listing_terms (
    listing_key TEXT NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (listing_key, field, value)
);
CREATE INDEX IF NOT EXISTS listing_terms_value ON listing_terms (field, value);
CREATE TABLE IF NOT EXISTS vendor_identifiers (
    id TEXT PRIMARY KEY,
    market TEXT NOT NULL,
    handle TEXT NOT NULL,
    handle_norm TEXT NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS vendor_identifiers_value ON vendor_identifiers (kind, value);
CREATE INDEX IF NOT EXISTS vendor_identifiers_vendor ON vendor_identifiers (handle_norm);
CREATE TABLE IF NOT EXISTS vendors (
    market TEXT NOT NULL,
    handle_norm TEXT NOT NULL,
    handle TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (market, handle_norm)
);
CREATE TABLE IF NOT EXISTS first_seen (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    market TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    crawl_id TEXT NOT NULL,
    baseline INTEGER NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS crawl_runs (
    crawl_id TEXT PRIMARY KEY,
    first_observed TEXT NOT NULL,
    last_observed TEXT NOT NULL,
    observations INTEGER NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS listings_fts USING fts5 (
    title, description, vendor, substances,
    tokenize = 'unicode61 remove_diacritics 0'
);
"""

# indices on columns a version-1 file lacks: created after those columns are added
_SCHEMA_V2_INDICES = """
CREATE INDEX IF NOT EXISTS listings_category ON listings (category);
CREATE INDEX IF NOT EXISTS listings_origin ON listings (origin_norm)
"""
#: facets that are one column of listings (the rest are rows of listing_facets)
_SCALAR_FACETS = ("market", "vendor", "ships_from", "category", "origin")
_MULTI_FACETS = ("substance", "class", "precursor")
#: the listings columns facet_counts follows: the scalar facets and the yes/no has_wallet
_ROW_FACETS = (*_SCALAR_FACETS, "has_wallet")


def _wallet_bucket(column: str) -> str:
    """The has_wallet facet bucket of a 0/1 column, named like every backend's (``derive.bool_facet``)."""
    return f"CASE {column} WHEN 1 THEN 'true' ELSE 'false' END"


def _facet_values(row: str) -> str:
    """(f, v) rows: the facet values of a listings row (``new`` or ``old`` in a trigger)."""
    parts = [f"SELECT '{c}' AS f, {row}.{c} AS v" for c in _SCALAR_FACETS]
    parts.append(f"SELECT 'has_wallet', {_wallet_bucket(f'{row}.has_wallet')}")
    return " UNION ALL ".join(parts)


def _count_in(row: str) -> str:
    return (
        f"INSERT INTO facet_counts (field, value, n) SELECT f, v, 1 FROM ({_facet_values(row)})"
        " WHERE v IS NOT NULL ON CONFLICT (field, value) DO UPDATE SET n = n + 1;"
    )


def _count_out(row: str) -> str:
    return (
        "UPDATE facet_counts SET n = n - 1 WHERE (field, value) IN"
        f" (SELECT f, v FROM ({_facet_values(row)}));"
    )


# Facet support. listing_facets holds a listing's multi-valued facet values once each, keyed by the
# listing's rowid (what a search's matches carry), so a facet is a count(*) over a primary-key
# range instead of a count(DISTINCT) over listing_substances. facet_counts holds every facet's
# counts over the whole store, kept exact by triggers on listings and listing_facets whatever
# writes them: a search without filters (the analyst's landing page) reads its facets there
# instead of grouping every listing.
_SCHEMA_V3 = f"""
CREATE TABLE IF NOT EXISTS listing_facets (
    rid INTEGER NOT NULL,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (rid, field, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS listing_facets_value ON listing_facets (field, value);
CREATE INDEX IF NOT EXISTS listing_ships_to_country ON listing_ships_to (country_norm);
CREATE TABLE IF NOT EXISTS facet_counts (
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (field, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS listings_first_seen ON listings (first_seen);
CREATE TRIGGER IF NOT EXISTS listings_count_insert AFTER INSERT ON listings BEGIN
    {_count_in("new")}
END;
CREATE TRIGGER IF NOT EXISTS listings_count_delete AFTER DELETE ON listings BEGIN
    {_count_out("old")}
END;
CREATE TRIGGER IF NOT EXISTS listings_count_update AFTER UPDATE OF {", ".join(_ROW_FACETS)} ON listings
WHEN {" OR ".join(f"old.{c} IS NOT new.{c}" for c in _ROW_FACETS)}
BEGIN
    {_count_out("old")}
    {_count_in("new")}
END;
CREATE TRIGGER IF NOT EXISTS listing_facets_count_insert AFTER INSERT ON listing_facets BEGIN
    INSERT INTO facet_counts (field, value, n) VALUES (new.field, new.value, 1)
    ON CONFLICT (field, value) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS listing_facets_count_delete AFTER DELETE ON listing_facets BEGIN
    UPDATE facet_counts SET n = n - 1 WHERE field = old.field AND value = old.value;
END
"""

_V2_COLUMNS = {
    "category": "TEXT",
    "origin": "TEXT",
    "origin_norm": "TEXT",
    "has_wallet": "INTEGER NOT NULL DEFAULT 0",
    "international": "INTEGER",
}

_LISTING_COLUMNS = "key, data, first_seen, last_seen, observations, removed"


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except sqlite3.OperationalError as exc:
        message = str(exc)
        if "locked" in message or "busy" in message or "unable to open" in message:
            raise StoreUnavailableError(f"sqlite: {action}: {message}") from exc
        raise StoreError(f"sqlite: {action}: {message}") from exc
    except sqlite3.Error as exc:
        raise StoreError(f"sqlite: {action}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"sqlite: {action}: {exc}") from exc


def _dump_money(money: Money | None) -> tuple[str | None, str | None]:
    if money is None:
        return None, None
    return str(money.amount), money.currency


class SqliteStore:
    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        with _translated(f"open {self.path}"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so the write lock is taken
            # up front and a concurrent writer waits (busy timeout) instead of failing mid-way.
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        self._closed = False
        try:
            with _translated(f"open {self.path}"):
                self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
                # The 2 MB default page cache thrashes once the store passes ~100k listings
                # (random-id B-tree inserts, FTS lookups): 64 MB cache plus a memory map.
                self._conn.execute("PRAGMA cache_size = -65536")
                self._conn.execute("PRAGMA mmap_size = 268435456")
                self._conn.execute("PRAGMA temp_store = MEMORY")
            self.setup()
        except BaseException:
            self.close()
            raise

    # --- lifecycle ---------------------------------------------------------------------------

    def setup(self) -> None:
        with self._lock, _translated("create schema"):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(_SCHEMA):
                    self._conn.execute(statement)
                have = {row[1] for row in self._conn.execute("PRAGMA table_info(listings)")}
                for column, decl in _V2_COLUMNS.items():
                    if column not in have:
                        # version 1 -> 2; the stored listings keep NULL until re-crawled or reparsed
                        self._conn.execute(f"ALTER TABLE listings ADD COLUMN {column} {decl}")
                for statement in _split_sql(_SCHEMA_V2_INDICES):
                    self._conn.execute(statement)
                stored = self._conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
                for statement in _split_sql(_SCHEMA_V3):
                    self._conn.execute(statement)
                if stored is not None and int(stored[0]) < 3:
                    _fill_facets(self._conn)
                self._conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('schema_version', ?)"
                    " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    (str(SCHEMA_VERSION),),
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write_tx(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._lock, _translated(action):
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # --- writing -----------------------------------------------------------------------------

    def write(self, observations: Sequence[Observation], *, baseline: bool = False) -> WriteResult:
        written = created = updated = 0
        events: list[Event] = []
        with self._write_tx("write observations") as conn:
            for obs in observations:
                outcome = self._write_one(conn, obs, baseline, events)
                if outcome is None:
                    continue
                written += 1
                if outcome:
                    created += 1
                else:
                    updated += 1
        return WriteResult(written=written, created=created, updated=updated, events=tuple(events))

    def _write_one(
        self, conn: sqlite3.Connection, obs: Observation, baseline: bool, events: list[Event]
    ) -> bool | None:
        """Returns True for a created listing, False for an updated one, None for a replay."""
        listing, enrichment = obs.listing, obs.enrichment
        key = obs.key
        at = derive.iso(obs.observed_at)
        handle = derive.vendor_handle(listing, enrichment)
        handle_norm = derive.norm_key(handle)
        cur = conn.execute(
            "INSERT INTO observations (id, listing_key, market, crawl_id, observed_at, vendor_norm, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                derive.observation_id(obs),
                key,
                listing.market,
                obs.crawl_id,
                at,
                handle_norm,
                obs.model_dump_json(by_alias=True),
            ),
        )
        if cur.rowcount == 0:
            return None  # the very same observation was written before (replay, retry)
        conn.execute(
            "INSERT INTO crawl_runs (crawl_id, first_observed, last_observed, observations)"
            " VALUES (?, ?, ?, 1) ON CONFLICT (crawl_id) DO UPDATE SET"
            " first_observed = min(first_observed, excluded.first_observed),"
            " last_observed = max(last_observed, excluded.last_observed),"
            " observations = observations + 1",
            (obs.crawl_id, at, at),
        )

        row = conn.execute(
            "SELECT rowid, last_seen, json_extract(data, '$.listing.price') FROM listings WHERE key = ?",
            (key,),
        ).fetchone()
        price_event: Event | None = None
        amount, currency = _dump_money(listing.price)
        content = (
            listing.market,
            derive.norm_key(listing.market),
            listing.listing_id,
            handle,
            handle_norm,
            listing.ships_from,
            derive.norm_key(listing.ships_from),
            _float(derive.price_per_gram_usd(enrichment)),
            amount,
            currency,
            enrichment.category,
            enrichment.origin,
            derive.norm_key(enrichment.origin),
            int(enrichment.has_wallet),
            None if enrichment.international is None else int(enrichment.international),
            json.dumps(
                {
                    "listing": listing.model_dump(mode="json", by_alias=True),
                    "enrichment": enrichment.model_dump(mode="json", by_alias=True),
                }
            ),
        )
        created = row is None
        if row is None:
            cur = conn.execute(
                "INSERT INTO listings (market, market_norm, listing_id, vendor, vendor_norm, ships_from,"
                " ships_from_norm, price_per_gram_usd, price_amount, price_currency, category, origin,"
                " origin_norm, has_wallet, international, data, key, first_seen, last_seen, observations,"
                " removed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 0)",
                (*content, key, at, at),
            )
            rowid = cur.lastrowid
            newer = True
        else:
            rowid, last_seen, old_price = row
            # An observation older than the latest one (late replay) counts, but must not roll
            # the latest view back.
            newer = at >= last_seen
            if newer:
                conn.execute(
                    "UPDATE listings SET market = ?, market_norm = ?, listing_id = ?, vendor = ?,"
                    " vendor_norm = ?, ships_from = ?, ships_from_norm = ?, price_per_gram_usd = ?,"
                    " price_amount = ?, price_currency = ?, category = ?, origin = ?, origin_norm = ?,"
                    " has_wallet = ?, international = ?, data = ?, last_seen = ?,"
                    " observations = observations + 1, removed = 0 WHERE key = ?",
                    (*content, at, key),
                )
                old = None if old_price is None else Money.model_validate_json(old_price)
                if (
                    old is not None
                    and listing.price is not None
                    and not derive.price_equal(old, listing.price)
                ):
                    price_event = Event(
                        kind=EventKind.PRICE_CHANGE,
                        market=listing.market,
                        at=obs.observed_at,
                        listing_id=listing.listing_id,
                        vendor=handle,
                        old_price=old,
                        new_price=listing.price,
                    )
            else:
                conn.execute(
                    "UPDATE listings SET observations = observations + 1,"
                    " first_seen = min(first_seen, ?) WHERE key = ?",
                    (at, key),
                )
        if newer:
            self._index_side_tables(conn, rowid, key, listing, enrichment, handle)

        if handle is not None and handle_norm is not None:
            conn.execute(
                "INSERT INTO vendors (market, handle_norm, handle, first_seen, last_seen)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (market, handle_norm) DO UPDATE SET"
                " first_seen = min(first_seen, excluded.first_seen),"
                " last_seen = max(last_seen, excluded.last_seen),"
                " handle = CASE WHEN excluded.last_seen >= last_seen THEN excluded.handle ELSE handle END",
                (listing.market, handle_norm, handle, at, at),
            )

        self._write_identifiers(conn, identity.from_observation(obs))
        # Same order as the Elasticsearch store: first-seen facts, then the price change.
        self._first_seen_events(conn, obs, handle, handle_norm, baseline, events)
        if price_event is not None:
            events.append(price_event)
        return created

    def _index_side_tables(
        self,
        conn: sqlite3.Connection,
        rowid: int | None,
        key: str,
        listing: Listing,
        enrichment: Enrichment,
        handle: str | None,
    ) -> None:
        conn.execute("DELETE FROM listings_fts WHERE rowid = ?", (rowid,))
        conn.execute(
            "INSERT INTO listings_fts (rowid, title, description, vendor, substances) VALUES (?, ?, ?, ?, ?)",
            (
                rowid,
                derive.search_text(listing.title),
                derive.search_text(listing.description),
                derive.search_text(handle),
                derive.substances_text(enrichment),
            ),
        )
        conn.execute("DELETE FROM listing_substances WHERE listing_key = ?", (key,))
        conn.executemany(
            "INSERT INTO listing_substances (listing_key, substance, name_norm, class) VALUES (?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [(key, d.id, derive.norm_key(d.name) or d.id, d.cls) for d in enrichment.drugs],
        )
        conn.execute("DELETE FROM listing_terms WHERE listing_key = ?", (key,))
        conn.executemany(
            "INSERT INTO listing_terms (listing_key, field, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(key, f, v) for f, values in derive.supply_terms(enrichment).items() for v in values],
        )
        conn.execute("DELETE FROM listing_facets WHERE rid = ?", (rowid,))
        conn.executemany(
            "INSERT INTO listing_facets (rid, field, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(rowid, f, v) for f, v in _multi_facet_values(enrichment)],
        )
        conn.execute("DELETE FROM listing_ships_to WHERE listing_key = ?", (key,))
        conn.executemany(
            "INSERT INTO listing_ships_to (listing_key, country_norm) VALUES (?, ?) ON CONFLICT DO NOTHING",
            [(key, n) for n in (derive.norm_key(c) for c in listing.ships_to) if n],
        )

    @staticmethod
    def _write_identifiers(
        conn: sqlite3.Connection, identifiers: Sequence[identity.VendorIdentifier]
    ) -> None:
        conn.executemany(
            "INSERT INTO vendor_identifiers"
            " (id, market, handle, handle_norm, kind, value, first_seen, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            [
                (
                    i.id,
                    i.market,
                    i.handle,
                    derive.norm_key(i.handle),
                    i.kind,
                    i.value,
                    derive.iso(i.first_seen),
                    i.source,
                )
                for i in identifiers
            ],
        )

    def write_vendor_pages(self, pages: Sequence[EnrichedVendorPage]) -> int:
        with self._write_tx("write vendor pages") as conn:
            for item in pages:
                self._write_identifiers(conn, identity.from_vendor_page(item))
        return len(pages)

    def _identifiers(self, where: str = "1", params: Sequence[Any] = ()) -> list[identity.VendorIdentifier]:
        return [
            identity.VendorIdentifier(
                market=m, handle=h, kind=k, value=v, first_seen=derive.parse_iso(fs), source=src
            )
            for m, h, k, v, fs, src in self._read(
                "SELECT market, handle, kind, value, first_seen, source FROM vendor_identifiers"
                f" WHERE {where} ORDER BY market, handle_norm, kind, value",
                params,
            )
        ]

    def identities(self) -> list[identity.Identity]:
        # only identifiers held by two or more accounts can link anything
        return identity.link(
            self._identifiers(
                "(kind, value) IN (SELECT kind, value FROM vendor_identifiers GROUP BY kind, value"
                " HAVING count(DISTINCT market || char(31) || handle_norm) > 1)"
            )
        )

    def _first_seen_events(
        self,
        conn: sqlite3.Connection,
        obs: Observation,
        handle: str | None,
        handle_norm: str | None,
        baseline: bool,
        events: list[Event],
    ) -> None:
        listing = obs.listing
        candidates: list[tuple[EventKind, str, str | None]] = [(EventKind.NEW_LISTING, obs.key, None)]
        if handle is not None and handle_norm is not None:
            candidates.append((EventKind.NEW_VENDOR, handle_norm, None))
            candidates.append((EventKind.NEW_VENDOR_MARKET, f"{handle_norm}\x1f{listing.market}", None))
            for sub in obs.enrichment.substances:
                candidates.append((EventKind.NEW_VENDOR_SUBSTANCE, f"{handle_norm}\x1f{sub}", sub))
        at = derive.iso(obs.observed_at)
        for kind, key, substance in candidates:
            cur = conn.execute(
                "INSERT INTO first_seen (kind, key, market, first_seen, crawl_id, baseline)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, key) DO NOTHING",
                (kind.value, key, listing.market, at, obs.crawl_id, int(baseline)),
            )
            if cur.rowcount == 1 and not baseline:
                events.append(
                    Event(
                        kind=kind,
                        market=listing.market,
                        at=obs.observed_at,
                        listing_id=listing.listing_id,
                        vendor=handle,
                        substance=substance,
                    )
                )

    def mark_removed(self, market: str, seen_before: datetime) -> WriteResult:
        """Mark the market's active listings not seen since ``seen_before`` as removed."""
        cutoff = derive.iso(seen_before)
        with self._write_tx("mark removed") as conn:
            rows = conn.execute(
                "UPDATE listings SET removed = 1 WHERE market = ? AND removed = 0 AND last_seen < ?"
                " RETURNING listing_id, vendor",
                (market, cutoff),
            ).fetchall()
        events = tuple(
            Event(kind=EventKind.REMOVED, market=market, at=seen_before, listing_id=lid, vendor=vendor)
            for lid, vendor in sorted(rows)
        )
        return WriteResult(written=0, created=0, updated=len(events), events=events)

    # --- reading -----------------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock, _translated("query"):
            return self._conn.execute(sql, params).fetchall()

    def get(self, market: str, listing_id: str) -> StoredListing | None:
        rows = self._read(
            f"SELECT {_LISTING_COLUMNS} FROM listings WHERE key = ?",
            (listing_key(market, listing_id),),
        )
        return _stored(rows[0]) if rows else None

    def count_listings(self, market: str | None = None) -> int:
        if market is None:
            return int(self._read("SELECT count(*) FROM listings")[0][0])
        return int(self._read("SELECT count(*) FROM listings WHERE market = ?", (market,))[0][0])

    def count_observations(self, market: str | None = None) -> int:
        if market is None:
            return int(self._read("SELECT count(*) FROM observations")[0][0])
        return int(self._read("SELECT count(*) FROM observations WHERE market = ?", (market,))[0][0])

    def vendors(self, market: str | None = None) -> list[Vendor]:
        sql = (
            "SELECT v.market, v.handle, v.first_seen, v.last_seen,"
            " (SELECT count(*) FROM listings l WHERE l.market = v.market AND l.vendor_norm = v.handle_norm)"
            " FROM vendors v"
        )
        params: tuple[str, ...] = ()
        if market is not None:
            sql += " WHERE v.market = ?"
            params = (market,)
        sql += " ORDER BY v.market, v.handle_norm"
        idents = identity.by_account(
            self._identifiers(*(("market = ?", params) if market is not None else ()))
        )
        return [
            Vendor(
                market=m,
                handle=h,
                first_seen=derive.parse_iso(fs),
                last_seen=derive.parse_iso(ls),
                listing_count=n,
                **idents.get((m, derive.norm_key(h) or h), {}),
            )
            for m, h, fs, ls, n in self._read(sql, params)
        ]

    def search(self, query: SearchQuery) -> SearchResult:
        where, params = _where(query)
        if where == "1":
            return self._search_everything(query)
        sort = query.effective_sort
        texts = positive_texts(query.ast) if sort == "relevance" else []
        order = _ORDER["last_seen" if sort == "relevance" else sort]
        with self._lock, _translated("search"):
            conn = self._conn
            # Evaluate the filter once into a temporary table (rowid-keyed); count, page and every
            # facet read from it instead of re-running the FTS matches.
            _drop_temp(conn)
            # The matches carry the columns that this query's facets and sort read (and nothing
            # more: copying is most of the cost), so neither joins back to the (wide) listings
            # rows; only the page's rows are read in full.
            columns = _matched_columns(query, sort)
            # the store's size, which both the ranking and the paging weigh the matches against
            listings = int(conn.execute("SELECT count(*) FROM listings").fetchone()[0])
            conn.execute(
                f"CREATE TEMP TABLE matched (rid INTEGER PRIMARY KEY, score REAL, {', '.join(columns)})"
            )
            try:
                source, score, source_params = "listings l", "NULL", []
                if texts:
                    every = " OR ".join(_fts_expr(t) for t in texts)
                    weighed = " OR ".join(_fts_expr(t) for t in _weighed(conn, texts, listings))
                    if weighed:
                        order = "l.score IS NULL, l.score ASC, l.last_seen DESC, l.key ASC"
                    if _only_ranked(query.ast):
                        # the matches are among the listings with a positive word: visit those,
                        # not every listing (and score them in the same pass when every word weighs)
                        scores = ", bm25(listings_fts) AS score" if weighed == every else ""
                        source = (
                            f"(SELECT rowid AS rid{scores} FROM listings_fts WHERE listings_fts MATCH ?) rk"
                            " CROSS JOIN listings l ON l.rowid = rk.rid"
                        )
                        source_params = [every]
                        if scores:
                            score = "rk.score"
                        if _any_word(query.ast):
                            # ... and are exactly those: the text need not be matched again
                            where, params = _where(query, text=False)
                    if weighed and score == "NULL":
                        # materialised first: a join on the MATCH subquery itself is re-evaluated
                        # per row
                        conn.execute("CREATE TEMP TABLE ranked (rid INTEGER PRIMARY KEY, score REAL)")
                        conn.execute(
                            "INSERT INTO temp.ranked SELECT rowid, bm25(listings_fts) FROM listings_fts"
                            " WHERE listings_fts MATCH ?",
                            [weighed],
                        )
                        source += " LEFT JOIN temp.ranked s ON s.rid = l.rowid"
                        score = "s.score"
                copied = ", ".join(f"l.{c}" for c in columns)
                conn.execute(
                    f"INSERT INTO temp.matched SELECT l.rowid, {score}, {copied} FROM {source} WHERE {where}",
                    [*source_params, *params],
                )
                total = int(conn.execute("SELECT count(*) FROM temp.matched").fetchone()[0])
                rows: list[Any] = []
                if query.limit:
                    page = [
                        rid
                        for (rid,) in conn.execute(
                            _page_sql(order, total, listings, query.limit + query.offset),
                            (query.limit, query.offset),
                        ).fetchall()
                    ]
                    by_rid = {
                        r[0]: r[1:]
                        for r in conn.execute(
                            f"SELECT rowid, {_LISTING_COLUMNS} FROM listings WHERE rowid IN"
                            f" ({','.join('?' * len(page))})",
                            page,
                        ).fetchall()
                    }
                    rows = [by_rid[rid] for rid in page]
                facets = {name: _facet(conn, name, query.facet_size) for name in query.facets}
            finally:
                _drop_temp(conn)
        return SearchResult(total=total, hits=tuple(_stored(r) for r in rows), facets=facets)

    def _search_everything(self, query: SearchQuery) -> SearchResult:
        """No filter: the count, the page (through the sort's index) and the facets (facet_counts)
        come without visiting every listing."""
        sort = query.effective_sort
        order = _ORDER["last_seen" if sort == "relevance" else sort]
        with self._lock, _translated("search"):
            conn = self._conn
            total = int(conn.execute("SELECT count(*) FROM listings").fetchone()[0])
            rows: list[Any] = []
            if query.limit:
                rows = conn.execute(
                    # the page's rowids first: the outer query reads only those (wide) rows
                    f"SELECT {_LISTING_COLUMNS} FROM listings l WHERE l.rowid IN"
                    f" (SELECT l.rowid FROM listings l ORDER BY {order} LIMIT ? OFFSET ?)"
                    f" ORDER BY {order}",
                    (query.limit, query.offset),
                ).fetchall()
            facets = {
                name: tuple(
                    FacetBucket(value=v, count=n)
                    for v, n in conn.execute(
                        "SELECT value, n FROM facet_counts WHERE field = ? AND n > 0"
                        " ORDER BY n DESC, value ASC LIMIT ?",
                        (name, query.facet_size),
                    )
                )
                for name in query.facets
            }
        return SearchResult(total=total, hits=tuple(_stored(r) for r in rows), facets=facets)

    def export(self, query: SearchQuery, *, batch_size: int = 1000) -> Iterator[StoredListing]:
        """Every match in listing-key order, paged by key (no offset limit, stable under writes)."""
        where, params = _where(query)
        after = ""
        while True:
            rows = self._read(
                f"SELECT {_LISTING_COLUMNS} FROM listings l WHERE {where} AND l.key > ?"
                " ORDER BY l.key LIMIT ?",
                [*params, after, batch_size],
            )
            for row in rows:
                yield _stored(row)
            if len(rows) < batch_size:
                return
            after = rows[-1][0]

    def vendor_profile(self, handle: str) -> VendorProfile | None:
        handle_norm = derive.norm_key(handle)
        markets = self._read(
            "SELECT v.market, v.handle, v.first_seen, v.last_seen,"
            " (SELECT count(*) FROM listings l WHERE l.market = v.market AND l.vendor_norm = v.handle_norm)"
            " FROM vendors v WHERE v.handle_norm = ? ORDER BY v.first_seen, v.market",
            (handle_norm,),
        )
        if not markets:
            return None
        listings = [
            _stored(r)
            for r in self._read(
                f"SELECT {_LISTING_COLUMNS} FROM listings WHERE vendor_norm = ? ORDER BY key", (handle_norm,)
            )
        ]
        history: dict[str, list[PricePoint]] = {}
        for (data,) in self._read(
            "SELECT data FROM observations WHERE vendor_norm = ? ORDER BY observed_at, id", (handle_norm,)
        ):
            add_price_points(history, Observation.model_validate_json(data))
        own = self._identifiers("handle_norm = ?", (handle_norm,))
        return _profile(markets, listings, history, own, identity.identities_of(self.identities(), handle))


def _split_sql(script: str) -> list[str]:
    """The statements of a script, whole: a trigger's body has semicolons of its own."""
    statements, pending = [], ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending)
            pending = ""
    return statements


def _multi_facet_values(enrichment: Enrichment) -> set[tuple[str, str]]:
    values = {("substance", d.id) for d in enrichment.drugs} | {("class", d.cls) for d in enrichment.drugs}
    return values | {("precursor", v) for v in derive.supply_terms(enrichment)["precursor"]}


def _fill_facets(conn: sqlite3.Connection) -> None:
    """Fill the version-3 facet tables from what an older file already holds."""
    conn.execute("DELETE FROM listing_facets")
    for field, source in (
        ("substance", "SELECT listing_key, substance AS value FROM listing_substances"),
        ("class", "SELECT listing_key, class AS value FROM listing_substances"),
        ("precursor", "SELECT listing_key, value FROM listing_terms WHERE field = 'precursor'"),
    ):
        conn.execute(
            f"INSERT INTO listing_facets (rid, field, value) SELECT l.rowid, '{field}', s.value"
            f" FROM ({source}) AS s JOIN listings l ON l.key = s.listing_key"
            " WHERE true ON CONFLICT DO NOTHING"
        )
    _rebuild_facet_counts(conn)


def _rebuild_facet_counts(conn: sqlite3.Connection) -> None:
    """Recount facet_counts from listings and listing_facets (the triggers keep it so after)."""
    conn.execute("DELETE FROM facet_counts")
    for column in _SCALAR_FACETS:
        conn.execute(
            f"INSERT INTO facet_counts (field, value, n) SELECT '{column}', {column}, count(*)"
            f" FROM listings WHERE {column} IS NOT NULL GROUP BY 2"
        )
    conn.execute(
        "INSERT INTO facet_counts (field, value, n)"
        f" SELECT 'has_wallet', {_wallet_bucket('has_wallet')}, count(*) FROM listings GROUP BY 2"
    )
    conn.execute(
        "INSERT INTO facet_counts (field, value, n)"
        " SELECT field, value, count(*) FROM listing_facets GROUP BY 1, 2"
    )


def _matched_columns(query: SearchQuery, sort: str) -> list[str]:
    """The listings columns a search's matches must carry: sort keys and scalar facets."""
    columns = ["key", "first_seen" if sort == "first_seen" else "last_seen"]
    if sort in ("price_per_gram", "-price_per_gram"):
        columns.append("price_per_gram_usd")
    columns += [f for f in query.facets if f in _SCALAR_FACETS or f == "has_wallet"]
    return columns


def _page_sql(order: str, total: int, listings: int, depth: int) -> str:
    """The query for one page of ``temp.matched`` (parameters: limit, offset).

    Sorting the matches costs about half a microsecond per match, however few the page needs.
    When the order is a listings index's and the matches are a large enough share of the
    listings, walking that index and keeping the matches finds the page after about
    ``depth * listings / total`` steps instead (tens of them, not 87k, for the first page of a
    query that matches most listings)."""
    index = _SORT_INDEX.get(order)
    if index is not None and total and depth * listings <= total * total:
        return (
            f"SELECT l.rowid FROM listings l INDEXED BY {index}"
            f" CROSS JOIN temp.matched m ON m.rid = l.rowid ORDER BY {order} LIMIT ? OFFSET ?"
        )
    return f"SELECT l.rid FROM temp.matched l ORDER BY {order} LIMIT ? OFFSET ?"


def _drop_temp(conn: sqlite3.Connection) -> None:
    conn.execute("DROP TABLE IF EXISTS temp.matched")
    conn.execute("DROP TABLE IF EXISTS temp.ranked")


def _facet(conn: sqlite3.Connection, name: str, size: int) -> tuple[FacetBucket, ...]:
    if name in _MULTI_FACETS:
        # CROSS JOIN keeps the matches as the outer loop (a primary-key range per match); left to
        # itself the planner may scan every listing's facet rows instead
        sql = (
            "SELECT f.value, count(*) AS n FROM temp.matched m"
            f" CROSS JOIN listing_facets f ON f.rid = m.rid AND f.field = '{name}' GROUP BY 1"
        )
    elif name == "has_wallet":
        sql = f"SELECT {_wallet_bucket('has_wallet')}, count(*) AS n FROM temp.matched GROUP BY 1"
    else:
        if name not in _SCALAR_FACETS:
            raise ValueError(f"unknown facet {name}")
        sql = f"SELECT {name}, count(*) AS n FROM temp.matched WHERE {name} IS NOT NULL GROUP BY 1"
    rows = conn.execute(f"{sql} ORDER BY n DESC, 1 ASC LIMIT ?", (size,)).fetchall()
    return tuple(FacetBucket(value=v, count=n) for v, n in rows)


def _profile(
    markets: Sequence[Sequence[Any]],
    listings: list[StoredListing],
    history: dict[str, list[PricePoint]],
    identifiers: Sequence[identity.VendorIdentifier] = (),
    linked: Sequence[identity.Identity] = (),
) -> VendorProfile:
    substances: dict[str, None] = {}
    for item in listings:
        for s in item.enrichment.substances:
            substances[s] = None
    return VendorProfile(
        handle=str(markets[-1][1]),
        markets=tuple(
            VendorMarket(
                market=m,
                handle=h,
                first_seen=derive.parse_iso(fs) if isinstance(fs, str) else fs,
                last_seen=derive.parse_iso(ls) if isinstance(ls, str) else ls,
                listing_count=n,
            )
            for m, h, fs, ls, n in markets
        ),
        substances=tuple(sorted(substances)),
        identifiers=tuple(identifiers),
        linked=tuple(linked),
        listings=tuple(listings),
        price_history={
            k: tuple(sorted(v, key=lambda p: (p.observed_at, p.market, p.listing_id)))
            for k, v in sorted(history.items())
        },
    )


_ORDER = {
    "last_seen": "l.last_seen DESC, l.key ASC",
    "first_seen": "l.first_seen DESC, l.key ASC",
    "price_per_gram": "l.price_per_gram_usd IS NULL, l.price_per_gram_usd ASC, l.key ASC",
    "-price_per_gram": "l.price_per_gram_usd IS NULL, l.price_per_gram_usd DESC, l.key ASC",
}
#: the listings index that yields each sort order, ties aside
_SORT_INDEX = {_ORDER["last_seen"]: "listings_last_seen", _ORDER["first_seen"]: "listings_first_seen"}


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _stored(row: Sequence[Any]) -> StoredListing:
    _key, data, first_seen, last_seen, observations, removed = row
    doc = json.loads(data)
    return StoredListing(
        listing=Listing.model_validate(doc["listing"]),
        enrichment=Enrichment.model_validate(doc["enrichment"]),
        first_seen=derive.parse_iso(first_seen),
        last_seen=derive.parse_iso(last_seen),
        observations=observations,
        removed=bool(removed),
    )


def _fts_expr(node: Text) -> str:
    # Tokens are letters/digits only (derive.search_tokens), but quote anyway: user text never
    # reaches MATCH unquoted.
    phrase = '"' + " ".join(node.tokens).replace('"', '""') + '"'
    if node.field is None:
        # every column: a column filter naming them all doubles the time FTS5 takes to match
        return phrase
    return f"{node.field} : {phrase}"


def _fts_tree(node: Node) -> str | None:
    """One FTS5 expression for a subtree of words joined by AND/OR, or None when it has anything
    else: FTS5 evaluates the whole tree in one pass, where one MATCH per word would each be
    joined against every listing."""
    if isinstance(node, Text):
        return _fts_expr(node)
    if isinstance(node, And | Or):
        parts = [_fts_tree(c) for c in node.children]
        if any(p is None for p in parts):
            return None
        return "(" + (" AND " if isinstance(node, And) else " OR ").join(p for p in parts if p) + ")"
    return None


def _weighed(conn: sqlite3.Connection, texts: Sequence[Text], listings: int) -> list[Text]:
    """The positive words that weigh in FTS5's BM25.

    FTS5 clamps the idf of a word found in at least half the listings to 1e-6 (its
    ``log((N - n + 0.5) / (n + 0.5))`` is not positive there), so such a word moves a score by a
    millionth of any other word's weight. Scoring it costs about 1 µs for each of its many matches
    and buys nothing: it is not scored, and the listings that match only such words rank after the
    scored ones, newest first (as they nearly do under FTS5's clamped scores).
    """
    half = (listings + 1) // 2
    weighed = []
    for text in texts:
        # counted up to half the listings only: past that the exact number does not matter
        (n,) = conn.execute(
            "SELECT count(*) FROM (SELECT 1 FROM listings_fts WHERE listings_fts MATCH ? LIMIT ?)",
            (_fts_expr(text), half),
        ).fetchone()
        if n < half:
            weighed.append(text)
    return weighed


def _only_ranked(node: Node | None) -> bool:
    """Whether every match of ``node`` contains one of its positive words, so that the ranked
    rows (the listings matching any positive word) hold every match."""
    if isinstance(node, Text | MatchNone):
        return True
    if isinstance(node, And):
        return any(_only_ranked(c) for c in node.children)
    if isinstance(node, Or):
        return all(_only_ranked(c) for c in node.children)
    return False


def _compile(node: Node, params: list[Any]) -> str:
    fts = _fts_tree(node)
    if fts is not None:
        params.append(fts)
        return "l.rowid IN (SELECT rowid FROM listings_fts WHERE listings_fts MATCH ?)"
    if isinstance(node, Keyword):
        return _keyword(node.field, node.value, params)
    if isinstance(node, And):
        return "(" + " AND ".join(_compile(c, params) for c in node.children) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_compile(c, params) for c in node.children) + ")"
    if isinstance(node, Not):
        return f"NOT ({_compile(node.child, params)})"
    if isinstance(node, MatchNone):
        return "0"
    raise TypeError(node)


def _keyword(name: str, value: str, params: list[Any]) -> str:
    # ``IS`` rather than ``=`` on nullable columns: under NOT, "x = ?" is NULL for a NULL x and drops
    # the row, where Elasticsearch's must_not keeps a document without the field.
    if name == "market":
        params.append(value)
        return "l.market_norm = ?"
    if name == "vendor":
        params.append(value)
        return "l.vendor_norm IS ?"
    if name == "ships_from":
        params.append(value)
        return "l.ships_from_norm IS ?"
    # Multi-valued fields as ``IN (subquery)``, not a correlated EXISTS: the planner can then
    # start from the (indexed) listings that have the value instead of testing every listing.
    if name == "substance":
        params.extend((value, value))
        return "l.key IN (SELECT listing_key FROM listing_substances WHERE substance = ? OR name_norm = ?)"
    if name in ("class", "precursor"):
        params.extend((name, value))
        return "l.rowid IN (SELECT rid FROM listing_facets WHERE field = ? AND value = ?)"
    if name == "ships_to":
        params.append(value)
        return "l.key IN (SELECT listing_key FROM listing_ships_to WHERE country_norm = ?)"
    if name == "category":
        params.append(value)
        return "l.category IS ?"
    if name == "origin":
        params.append(value)
        return "l.origin_norm IS ?"
    if name in ("destination", "wallet", "pgp"):
        params.extend((name, value))
        return "l.key IN (SELECT listing_key FROM listing_terms WHERE field = ? AND value = ?)"
    raise ValueError(f"unknown keyword field {name}")


def _any_word(node: Node | None) -> bool:
    """Whether ``node`` is words joined by OR only: it matches exactly the ranked rows."""
    if isinstance(node, Text):
        return True
    return isinstance(node, Or) and all(_any_word(c) for c in node.children)


def _where(query: SearchQuery, *, text: bool = True) -> tuple[str, list[Any]]:
    """The filter as SQL over ``listings l``; ``text=False`` leaves out the free text."""
    clauses: list[str] = []
    params: list[Any] = []
    ast = query.ast
    if ast is not None and text:
        clauses.append(_compile(ast, params))
    for name, normalized in query.keyword_filters():
        clauses.append(_keyword(name, normalized, params))
    if query.price_per_gram_min is not None:
        clauses.append("l.price_per_gram_usd >= ?")
        params.append(float(query.price_per_gram_min))
    if query.price_per_gram_max is not None:
        clauses.append("l.price_per_gram_usd <= ?")
        params.append(float(query.price_per_gram_max))
    for column, op, moment in (
        ("first_seen", ">=", query.first_seen_from),
        ("first_seen", "<=", query.first_seen_to),
        ("last_seen", ">=", query.last_seen_from),
        ("last_seen", "<=", query.last_seen_to),
    ):
        if moment is not None:
            clauses.append(f"l.{column} {op} ?")
            params.append(derive.iso(moment))
    if query.removed is not None:
        clauses.append("l.removed = ?")
        params.append(int(query.removed))
    if query.has_wallet is not None:
        clauses.append("l.has_wallet = ?")
        params.append(int(query.has_wallet))
    if query.international is not None:
        clauses.append("l.international = ?")
        params.append(int(query.international))
    return (" AND ".join(clauses) or "1"), params
