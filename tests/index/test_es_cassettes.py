"""Fast unit tests of the Elasticsearch client code, replaying HTTP exchanges recorded (vcrpy) from
the real server. Re-record after changing the request shapes:

    ONIONWATCH_VCR_RECORD=1 .venv/bin/pytest tests/index/test_es_cassettes.py

Recording starts the real server (es fixture); replaying needs no server. Requests are matched on
method, path, query and body (not host/port), so the replayed URL is arbitrary. The integration
tests against the real server remain the reference; these only keep the client plumbing honest
without one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import vcr

from onionwatch.errors import StoreError
from onionwatch.index.elasticsearch import ElasticsearchStore
from onionwatch.index.query import SearchQuery
from onionwatch.models import EventKind
from onionwatch.settings import ElasticsearchSettings

from .corpus import T0, listing

CASSETTES = Path(__file__).parent / "cassettes"
RECORD = os.environ.get("ONIONWATCH_VCR_RECORD") == "1"
PREFIX = "owvcr"


@pytest.fixture
def url(request: pytest.FixtureRequest) -> Iterator[str]:
    if not RECORD:
        yield "http://127.0.0.1:39299"  # never contacted: every request is answered from the cassette
        return
    es_url: str = request.getfixturevalue("es_url")
    from elasticsearch import Elasticsearch

    def clean() -> None:
        with Elasticsearch(es_url) as client:
            client.indices.delete(index=f"{PREFIX}*", expand_wildcards="all", ignore_unavailable=True)
            client.options(ignore_status=404).indices.delete_index_template(name=f"{PREFIX}*")

    clean()
    yield es_url
    clean()


def cassette(name: str) -> vcr.cassette.CassetteContextDecorator:  # type: ignore[name-defined]
    path = CASSETTES / f"{name}.yaml"
    if not RECORD and not path.exists():
        pytest.fail(f"cassette {path} missing; record it with ONIONWATCH_VCR_RECORD=1")
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if RECORD else "none",
        match_on=["method", "path", "query", "body"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    )
    return recorder.use_cassette(f"{name}.yaml")


def make(url: str, tmp_path: Path) -> ElasticsearchStore:
    return ElasticsearchStore(
        ElasticsearchSettings(url=url, index_prefix=PREFIX), spool_dir=tmp_path, refresh=True
    )


def test_write_get_search(url: str, tmp_path: Path) -> None:
    with cassette("write_get_search"), make(url, tmp_path) as store:
        store.setup()
        first = store.write(
            [
                listing(
                    "abacus",
                    "1",
                    title="1g fentanyl pure",
                    vendor="Acme",
                    at=T0,
                    substances=("fentanyl",),
                    price_usd=Decimal(100),
                    grams=Decimal(1),
                ),
                listing("bohemia", "2", title="cocaine rock", vendor="Other", at=T0, substances=("cocaine",)),
            ]
        )
        assert first.written == 2 and first.created == 2
        assert sum(e.kind == EventKind.NEW_VENDOR for e in first.events) == 2
        again = store.write(
            [
                listing(
                    "abacus",
                    "1",
                    title="1g fentanyl pure",
                    vendor="Acme",
                    at=T0 + timedelta(days=1),
                    substances=("fentanyl",),
                    price_usd=Decimal(90),
                    grams=Decimal(1),
                    crawl_id="c2",
                )
            ]
        )
        assert [e.kind for e in again.events] == [EventKind.PRICE_CHANGE]
        got = store.get("abacus", "1")
        assert got is not None and got.observations == 2 and got.first_seen == T0
        result = store.search(
            SearchQuery(text="fentanyl OR cocaine", facets=("market", "class"), sort="last_seen")
        )
        assert [h.listing.listing_id for h in result.hits] == ["1", "2"]
        assert {b.value: b.count for b in result.facets["class"]} == {"fentanyl_class": 1, "stimulant": 1}
        assert [v.handle for v in store.vendors()] == ["Acme", "Other"]


def test_api_error_is_translated(url: str, tmp_path: Path) -> None:
    settings = ElasticsearchSettings(url=url, index_prefix="owvcr-BAD")
    with (
        cassette("api_error"),
        ElasticsearchStore(settings, spool_dir=tmp_path) as bad,
        pytest.raises(StoreError, match="400 invalid_index_template_exception"),
    ):
        bad.setup()
