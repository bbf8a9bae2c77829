"""A local durable queue for observations the Elasticsearch writer could not deliver.

One SQLite file (``synchronous=FULL``: a spooled batch survives a crash or power loss). Batches
are replayed oldest first and removed only after Elasticsearch accepted them; the writer is
idempotent (deterministic ids everywhere), so a batch replayed twice is still indexed once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from onionwatch.errors import StoreError
from onionwatch.models import Observation


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        # Opened on first use: a healthy cluster never creates the file.
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS batches (id INTEGER PRIMARY KEY AUTOINCREMENT,"
                    " baseline INTEGER NOT NULL, observations TEXT NOT NULL)"
                )
                # Batches the cluster refused for a reason other than being unreachable: kept for
                # an operator instead of blocking every later write.
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS dead_batches (id INTEGER PRIMARY KEY,"
                    " baseline INTEGER NOT NULL, observations TEXT NOT NULL, reason TEXT NOT NULL)"
                )
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot open spool {self.path}: {exc}") from exc
            self._conn = conn
        return self._conn

    def append(self, observations: Sequence[Observation], baseline: bool) -> None:
        payload = json.dumps([o.model_dump(mode="json", by_alias=True) for o in observations])
        with self._lock:
            try:
                self._db().execute(
                    "INSERT INTO batches (baseline, observations) VALUES (?, ?)", (int(baseline), payload)
                )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot spool to {self.path}: {exc}") from exc

    def oldest(self) -> tuple[int, bool, list[Observation]] | None:
        if self._conn is None and not self.path.exists():
            return None
        with self._lock:
            try:
                row = (
                    self._db()
                    .execute("SELECT id, baseline, observations FROM batches ORDER BY id LIMIT 1")
                    .fetchone()
                )
            except sqlite3.Error as exc:
                raise StoreError(f"cannot read spool {self.path}: {exc}") from exc
        if row is None:
            return None
        batch_id, baseline, payload = row
        return batch_id, bool(baseline), [Observation.model_validate(o) for o in json.loads(payload)]

    def remove(self, batch_id: int) -> None:
        with self._lock:
            try:
                self._db().execute("DELETE FROM batches WHERE id = ?", (batch_id,))
            except sqlite3.Error as exc:
                raise StoreError(f"cannot update spool {self.path}: {exc}") from exc

    def bury(self, batch_id: int, reason: str) -> None:
        with self._lock:
            try:
                conn = self._db()
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    "INSERT INTO dead_batches (id, baseline, observations, reason)"
                    " SELECT id, baseline, observations, ? FROM batches WHERE id = ?",
                    (reason, batch_id),
                )
                conn.execute("DELETE FROM batches WHERE id = ?", (batch_id,))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot update spool {self.path}: {exc}") from exc

    def dead(self) -> int:
        """Number of batches set aside because the cluster refused them."""
        if self._conn is None and not self.path.exists():
            return 0
        with self._lock:
            return int(self._db().execute("SELECT count(*) FROM dead_batches").fetchone()[0])

    def pending(self) -> int:
        """Number of spooled observations."""
        if self._conn is None and not self.path.exists():
            return 0
        with self._lock:
            rows = self._db().execute("SELECT observations FROM batches").fetchall()
        return sum(len(json.loads(r[0])) for r in rows)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
