"""Bulk requests of the Elasticsearch store: actions written straight to one NDJSON body per
chunk, items refused with 429 (the cluster's back-pressure) sent again with backoff.

``helpers.streaming_bulk`` does the same generically: it copies every action, serialises metadata
and source through two layers of serializer calls per line and re-chunks lazily, which was a
third of the writer's Python time. The actions here have one known shape (metadata keys in
:data:`META`, then a ``_source`` or an update body), so each line is one ``orjson.dumps``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
from elasticsearch import ApiError, Elasticsearch
from elasticsearch.serializer import OrjsonSerializer

#: the action keys that go into the metadata line; every other key but ``_op_type`` is the body
META = frozenset(("_index", "_id", "if_seq_no", "if_primary_term", "retry_on_conflict"))
#: the per-item fields the store reads, and no more: decoding whole responses was 7 % of its time
RESPONSE_FIELDS = "items.*._id,items.*.status,items.*.error"
#: a request body never grows past this (Elasticsearch's default http.max_content_length is 100mb)
MAX_CHUNK_BYTES = 50 * 1024 * 1024

# Values outside JSON (Decimal, date) are encoded as the client itself would encode them.
_default = OrjsonSerializer().default


def encode(action: dict[str, Any]) -> bytes:
    """The NDJSON lines (with their newlines) of one action."""
    op = action.get("_op_type", "index")
    meta = {k: v for k, v in action.items() if k in META}
    head = orjson.dumps({op: meta}, default=_default)
    if op == "delete":
        return head + b"\n"
    source = action.get("_source")
    if source is None:
        source = {k: v for k, v in action.items() if k not in META and k != "_op_type"}
    return head + b"\n" + orjson.dumps(source, default=_default) + b"\n"


def chunks(lines: Sequence[bytes], size: int, max_bytes: int = MAX_CHUNK_BYTES) -> Iterator[tuple[int, int]]:
    """``(start, end)`` ranges of at most ``size`` actions and (unless one action alone is larger)
    ``max_bytes`` bytes."""
    start, used = 0, 0
    for i, line in enumerate(lines):
        if i > start and (i - start >= size or used + len(line) > max_bytes):
            yield start, i
            start, used = i, 0
        used += len(line)
    if start < len(lines):
        yield start, len(lines)


def send(
    client: Elasticsearch,
    actions: Sequence[dict[str, Any]],
    *,
    chunk_size: int,
    max_retries: int = 5,
    initial_backoff: float = 0.2,
    max_backoff: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Send ``actions``; yield ``(op, item)`` for every action, in the order answered.

    An item (or a whole request) refused with 429 is sent again after a backoff doubling from
    ``initial_backoff`` up to ``max_backoff``, at most ``max_retries`` times; after that the 429
    item is yielded like any other failure (a whole request still refused raises its ApiError).
    Transport errors propagate to the caller, which translates them."""
    lines = [encode(a) for a in actions]
    for attempt in range(max_retries + 1):
        last = attempt == max_retries
        retry: list[int] = []
        for start, end in chunks(lines, chunk_size):
            try:
                resp = client.bulk(
                    operations=b"".join(lines[start:end]),  # type: ignore[arg-type]
                    filter_path=RESPONSE_FIELDS,
                )
            except ApiError as exc:
                if exc.meta.status != 429 or last:
                    raise
                retry.extend(range(start, end))
                continue
            for i, item in zip(range(start, end), resp["items"], strict=True):
                ((op, info),) = item.items()
                if info.get("status") == 429 and not last:
                    retry.append(i)
                    continue
                yield op, info
        if not retry:
            return
        sleep(min(max_backoff, initial_backoff * 2**attempt))
        lines = [lines[i] for i in retry]
