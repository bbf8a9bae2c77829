"""The store's NDJSON bulk writer: the same request lines as the client's own helpers, chunking,
and the 429 back-pressure retries.

The retry tests drive ``es_bulk.send`` with a scripted stand-in for the client: a real
Elasticsearch cannot be made to refuse chosen items with 429 on demand. Everything else the
writer sends goes to the real server in test_elasticsearch.py and the contract suite.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest
from elastic_transport import ApiResponseMeta, HttpHeaders, NodeConfig
from elasticsearch import ApiError, helpers
from elasticsearch.serializer import OrjsonSerializer

from onionwatch.index import es_bulk

ACTIONS: list[dict[str, Any]] = [
    {"_op_type": "create", "_index": "i", "_id": "a", "_source": {"x": 1, "t": "é", "n": None}},
    {"_index": "i", "_id": "b", "_source": {"price": Decimal("12.50")}},
    {
        "_op_type": "index",
        "_index": "i",
        "_id": "c",
        "if_seq_no": 7,
        "if_primary_term": 1,
        "_source": {"nested": {"k": [1, 2]}},
    },
    {
        "_op_type": "update",
        "_index": "runs",
        "_id": "d",
        "doc": {"last": "2026"},
        "upsert": {"first": "2025", "last": "2026"},
        "retry_on_conflict": 5,
    },
    {"_op_type": "delete", "_index": "i", "_id": "e"},
]


def helpers_lines(action: dict[str, Any]) -> list[Any]:
    """What ``helpers.streaming_bulk`` sends for one action with the store's serializer."""
    serializer = OrjsonSerializer()
    meta, data = helpers.expand_action(dict(action))
    lines = [serializer.dumps(meta)]
    if data is not None:
        lines.append(serializer.dumps(data))
    return [orjson.loads(line) for line in lines]


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: str(a["_id"]))
def test_lines_are_the_ones_the_client_helpers_send(action: dict[str, Any]) -> None:
    encoded = es_bulk.encode(action)
    assert encoded.endswith(b"\n")
    assert [orjson.loads(line) for line in encoded.splitlines()] == helpers_lines(action)


def test_chunks_respect_count_and_bytes() -> None:
    lines = [b"x" * 10] * 7
    assert list(es_bulk.chunks(lines, 3)) == [(0, 3), (3, 6), (6, 7)]
    assert list(es_bulk.chunks(lines, 100, max_bytes=25)) == [(0, 2), (2, 4), (4, 6), (6, 7)]
    # one action larger than the cap still goes, alone
    assert list(es_bulk.chunks([b"x" * 50, b"y"], 100, max_bytes=25)) == [(0, 1), (1, 2)]
    assert list(es_bulk.chunks([], 3)) == []


class ScriptedClient:
    """Answers each bulk request with the next scripted status per item (or raises)."""

    def __init__(self, script: list[list[int] | ApiError]) -> None:
        self.script = script
        self.requests: list[list[str]] = []

    def bulk(self, *, operations: bytes, filter_path: str) -> dict[str, Any]:
        assert filter_path == es_bulk.RESPONSE_FIELDS
        lines = operations.splitlines()
        ids = [orjson.loads(line)["create"]["_id"] for line in lines[::2]]
        self.requests.append(ids)
        step = self.script.pop(0)
        if isinstance(step, ApiError):
            raise step
        return {"items": [{"create": {"_id": i, "status": s}} for i, s in zip(ids, step, strict=True)]}


def create(i: str) -> dict[str, Any]:
    return {"_op_type": "create", "_index": "i", "_id": i, "_source": {"v": i}}


def refused(status: int) -> ApiError:
    meta = ApiResponseMeta(
        status=status,
        http_version="1.1",
        headers=HttpHeaders(),
        duration=0.0,
        node=NodeConfig("http", "h", 1),
    )
    return ApiError("es_rejected_execution_exception", meta=meta, body={"status": status})


def test_items_refused_with_429_are_sent_again_with_growing_backoff() -> None:
    client = ScriptedClient([[201, 429, 201, 429], [429, 201], [201]])
    sleeps: list[float] = []
    items = list(
        es_bulk.send(client, [create(i) for i in "abcd"], chunk_size=10, sleep=sleeps.append)  # type: ignore[arg-type]
    )
    assert client.requests == [["a", "b", "c", "d"], ["b", "d"], ["b"]]
    assert sorted((info["_id"], info["status"]) for _op, info in items) == [
        ("a", 201),
        ("b", 201),
        ("c", 201),
        ("d", 201),
    ]
    assert sleeps == [0.2, 0.4]


def test_429_after_the_last_retry_is_answered_not_dropped() -> None:
    client = ScriptedClient([[429], [429], [429]])
    items = list(
        es_bulk.send(client, [create("a")], chunk_size=10, max_retries=2, sleep=lambda _s: None)  # type: ignore[arg-type]
    )
    assert [(op, info["status"]) for op, info in items] == [("create", 429)]
    assert len(client.requests) == 3


def test_a_whole_request_refused_with_429_is_retried_then_raised() -> None:
    client = ScriptedClient([refused(429), [201, 201]])
    items = list(es_bulk.send(client, [create("a"), create("b")], chunk_size=10, sleep=lambda _s: None))  # type: ignore[arg-type]
    assert [info["_id"] for _op, info in items] == ["a", "b"]

    client = ScriptedClient([refused(429), refused(429)])
    with pytest.raises(ApiError):
        list(es_bulk.send(client, [create("a")], chunk_size=10, max_retries=1, sleep=lambda _s: None))  # type: ignore[arg-type]


def test_other_refusals_are_not_retried() -> None:
    client = ScriptedClient([refused(400)])
    with pytest.raises(ApiError):
        list(es_bulk.send(client, [create("a")], chunk_size=10, sleep=lambda _s: None))  # type: ignore[arg-type]
    assert len(client.requests) == 1


def test_chunks_are_separate_requests() -> None:
    client = ScriptedClient([[201, 201], [201]])
    items = list(es_bulk.send(client, [create(i) for i in "abc"], chunk_size=2))  # type: ignore[arg-type]
    assert client.requests == [["a", "b"], ["c"]]
    assert len(items) == 3
