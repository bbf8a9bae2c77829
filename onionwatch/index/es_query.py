"""Translate a :class:`SearchQuery` into an Elasticsearch request body (pure; no client here).

Text leaves become phrase queries on the ``search.*`` fields, which hold text already reduced to
the shared token form (``derive.search_text``), so the standard analyzer sees the same tokens as
SQLite's FTS5. Keyword leaves are ``term`` queries on the ``*_norm`` fields.
"""

from __future__ import annotations

from typing import Any

from onionwatch.index import derive
from onionwatch.index.query import (
    ALL_TEXT_FIELDS,
    And,
    FacetBucket,
    Keyword,
    MatchNone,
    Node,
    Not,
    Or,
    SearchQuery,
    Text,
)

KEYWORD_FIELD = {
    "market": "market_norm",
    "vendor": "vendor_norm",
    "ships_from": "ships_from_norm",
    "ships_to": "ships_to_norm",
    "substance": "substance_keys",
    "class": "classes",
    "category": "category",
    "origin": "origin_norm",
    "destination": "destination_norm",
    "precursor": "precursors",
    "wallet": "wallet_norm",
    "pgp": "pgp_norm",
}
FACET_FIELD = {
    "market": "market",
    "vendor": "vendor",
    "substance": "substances",
    "class": "classes",
    "ships_from": "ships_from",
    "category": "category",
    "origin": "origin",
    "precursor": "precursors",
    "has_wallet": "has_wallet",
}
TIEBREAK: dict[str, Any] = {"key": "asc"}
SORTS: dict[str, list[Any]] = {
    "relevance": ["_score", {"last_seen": "desc"}, TIEBREAK],
    "last_seen": [{"last_seen": "desc"}, TIEBREAK],
    "first_seen": [{"first_seen": "desc"}, TIEBREAK],
    "price_per_gram": [{"price_per_gram_usd": {"order": "asc", "missing": "_last"}}, TIEBREAK],
    "-price_per_gram": [{"price_per_gram_usd": {"order": "desc", "missing": "_last"}}, TIEBREAK],
}


def compile_node(node: Node) -> dict[str, Any]:
    if isinstance(node, Text):
        phrase = " ".join(node.tokens)
        if node.field is not None:
            return {"match_phrase": {f"search.{node.field}": phrase}}
        return {
            "multi_match": {
                "query": phrase,
                "type": "phrase",
                "fields": [f"search.{f}" for f in ALL_TEXT_FIELDS],
            }
        }
    if isinstance(node, Keyword):
        return {"term": {KEYWORD_FIELD[node.field]: node.value}}
    if isinstance(node, And):
        return {"bool": {"must": [compile_node(c) for c in node.children]}}
    if isinstance(node, Or):
        return {"bool": {"should": [compile_node(c) for c in node.children], "minimum_should_match": 1}}
    if isinstance(node, Not):
        return {"bool": {"must_not": [compile_node(node.child)]}}
    if isinstance(node, MatchNone):
        return {"match_none": {}}
    raise TypeError(node)


def build_query(query: SearchQuery) -> dict[str, Any]:
    """The ``query`` clause: the parsed text scores, the structured filters only filter."""
    filters: list[dict[str, Any]] = []
    for name, normalized in query.keyword_filters():
        filters.append({"term": {KEYWORD_FIELD[name]: normalized}})
    price: dict[str, float] = {}
    if query.price_per_gram_min is not None:
        price["gte"] = float(query.price_per_gram_min)
    if query.price_per_gram_max is not None:
        price["lte"] = float(query.price_per_gram_max)
    if price:
        filters.append({"range": {"price_per_gram_usd": price}})
    for field, low, high in (
        ("first_seen", query.first_seen_from, query.first_seen_to),
        ("last_seen", query.last_seen_from, query.last_seen_to),
    ):
        bounds: dict[str, str] = {}
        if low is not None:
            bounds["gte"] = derive.iso(low)
        if high is not None:
            bounds["lte"] = derive.iso(high)
        if bounds:
            filters.append({"range": {field: bounds}})
    for field, flag in (
        ("removed", query.removed),
        ("has_wallet", query.has_wallet),
        ("international", query.international),
    ):
        if flag is not None:
            filters.append({"term": {field: flag}})
    ast = query.ast
    if ast is None and not filters:
        return {"match_all": {}}
    clause: dict[str, Any] = {}
    if ast is not None:
        clause["must"] = [compile_node(ast)]
    if filters:
        clause["filter"] = filters
    return {"bool": clause}


#: yes/no facets: the documents with the value true are counted by a filter, the rest are the
#: other matches (a document without the field counts as "false", as on SQLite). A terms
#: aggregation on a boolean field collects every matching document instead (30 ms of 1M), and
#: keeps the other facets from being answered from the index's term counts.
_BOOL_FACETS = ("has_wallet",)


def _facet_agg(query: SearchQuery, name: str) -> dict[str, Any]:
    field = FACET_FIELD[name]
    if name in _BOOL_FACETS:
        return {"filter": {"term": {field: True}}}
    return {
        "terms": {
            "field": field,
            "size": query.facet_size,
            # One shard per index, but be explicit: facet counts must be exact, not estimates.
            "shard_size": max(query.facet_size * 10, 1000),
            "order": [{"_count": "desc"}, {"_key": "asc"}],
        }
    }


def build_aggs(query: SearchQuery) -> dict[str, Any]:
    return {name: _facet_agg(query, name) for name in query.facets}


def facet_buckets(query: SearchQuery, agg: dict[str, Any], total: int) -> tuple[FacetBucket, ...]:
    """A facet's buckets from its aggregation result (``total``: the matches), ordered as the
    SQLite store orders them."""
    if "buckets" not in agg:  # a yes/no facet: the count of true
        yes = int(agg["doc_count"])
        counted = [(derive.bool_facet(True), yes), (derive.bool_facet(False), total - yes)]
        pairs = sorted(((k, n) for k, n in counted if n), key=lambda kv: (-kv[1], kv[0]))
        return tuple(FacetBucket(value=k, count=n) for k, n in pairs[: query.facet_size])
    return tuple(FacetBucket(value=str(b["key"]), count=b["doc_count"]) for b in agg["buckets"])


def build_search_body(query: SearchQuery) -> dict[str, Any]:
    """The page of hits: scored and sorted, without counting them (see build_count_body)."""
    return {
        "query": build_query(query),
        "sort": SORTS[query.effective_sort],
        "from": query.offset,
        "size": query.limit,
        # Counting every match makes Lucene score every match; without it, a relevance sort skips
        # the blocks that cannot reach the page (87 % of 1M matching: 77 -> 37 ms).
        "track_total_hits": False,
    }


def build_count_body(query: SearchQuery) -> dict[str, Any]:
    """The exact total and the facets: the same query as a filter, so nothing is scored."""
    body: dict[str, Any] = {
        "query": {"bool": {"filter": [build_query(query)]}},
        "size": 0,
        "track_total_hits": True,
    }
    aggs = build_aggs(query)
    if aggs:
        body["aggs"] = aggs
    return body


def build_export_body(query: SearchQuery, batch_size: int, search_after: list[Any] | None) -> dict[str, Any]:
    """One page of a point-in-time export: key order, ``search_after`` instead of ``from``."""
    body: dict[str, Any] = {
        "query": build_query(query),
        "sort": [TIEBREAK],
        "size": batch_size,
        "track_total_hits": False,
    }
    if search_after is not None:
        body["search_after"] = search_after
    return body
