"""Store fixtures: every backend the contract suite runs against.

The Elasticsearch server is real: ``scripts/elasticsearch.sh`` fetches Elasticsearch's
integ-test-zip from Maven Central and starts it on a free loopback port in 39200-39299 for the
session. If it cannot be fetched or started, ES tests fail when ``ONIONWATCH_REQUIRE_ES=1`` (CI)
and are skipped with the reason otherwise. ``ONIONWATCH_ES_URL`` points the tests at an already
running server instead (nothing is started or stopped then).
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from onionwatch.index.sqlite import SqliteStore

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "elasticsearch.sh"


def free_port() -> int:
    for port in range(39200, 39300):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 39200-39299")


def _unavailable(reason: str) -> None:
    if os.environ.get("ONIONWATCH_REQUIRE_ES") == "1":
        pytest.fail(
            f"Elasticsearch required (ONIONWATCH_REQUIRE_ES=1) but unavailable: {reason}", pytrace=False
        )
    pytest.skip(f"Elasticsearch unavailable: {reason} (set ONIONWATCH_REQUIRE_ES=1 to fail instead)")


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    external = os.environ.get("ONIONWATCH_ES_URL")
    if external:
        yield external
        return
    try:
        fetch = subprocess.run(["bash", str(SCRIPT), "fetch"], capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable(f"fetch failed: {exc}")
    if fetch.returncode != 0:
        _unavailable(f"fetch failed: {fetch.stderr.strip()[-2000:]}")
    port = free_port()
    stop_es(port)  # leftovers of an interrupted session on this port
    try:
        start = subprocess.run(
            ["bash", str(SCRIPT), "start", str(port)], capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        stop_es(port)
        _unavailable(f"start failed: {exc}")
    if start.returncode != 0:
        stop_es(port)
        _unavailable(f"start failed: {start.stderr.strip()[-2000:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_es(port)


def stop_es(port: int) -> None:
    subprocess.run(["bash", str(SCRIPT), "stop", str(port)], capture_output=True, check=False, timeout=120)
    subprocess.run(["bash", str(SCRIPT), "clean", str(port)], capture_output=True, check=False, timeout=60)


StoreFactory = Callable[[], Any]


def _sqlite_factory(tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[SqliteStore] = []
    path = tmp_path / "store.sqlite"

    def make() -> SqliteStore:
        store = SqliteStore(path)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def _es_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    url = request.getfixturevalue("es_url")
    from elasticsearch import Elasticsearch

    from onionwatch.index.elasticsearch import ElasticsearchStore
    from onionwatch.settings import ElasticsearchSettings

    prefix = f"owtest-{uuid.uuid4().hex[:10]}"
    settings = ElasticsearchSettings(url=url, index_prefix=prefix)
    opened: list[ElasticsearchStore] = []

    def make() -> ElasticsearchStore:
        # Tests read their own writes: refresh after each write instead of waiting for the interval.
        store = ElasticsearchStore(settings, spool_dir=tmp_path / "spool", refresh=True)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()
    with Elasticsearch(url) as client:
        client.indices.delete(index=f"{prefix}*", expand_wildcards="all", ignore_unavailable=True)
        client.options(ignore_status=404).indices.delete_index_template(name=f"{prefix}*")


BACKENDS = [pytest.param("sqlite", id="sqlite"), pytest.param("elasticsearch", id="es", marks=pytest.mark.es)]


@pytest.fixture(params=BACKENDS)
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "sqlite":
        yield from _sqlite_factory(tmp_path)
    else:
        yield from _es_factory(request, tmp_path)


@pytest.fixture
def store(store_factory: StoreFactory) -> Any:
    s = store_factory()
    s.setup()
    return s


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "store.sqlite")
    yield s
    s.close()
