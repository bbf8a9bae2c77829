"""Query parsing and the Elasticsearch request bodies it generates (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from onionwatch.errors import QuerySyntaxError, StoreError, StoreUnavailableError
from onionwatch.index.elasticsearch import _answer
from onionwatch.index.es_query import (
    build_count_body,
    build_export_body,
    build_search_body,
    compile_node,
    facet_buckets,
)
from onionwatch.index.query import (
    And,
    FacetBucket,
    Keyword,
    MatchNone,
    Not,
    Or,
    SearchQuery,
    Text,
    parse_query,
)

TEXT_FIELDS = ["search.title", "search.description", "search.vendor", "search.substances"]


@pytest.mark.parametrize(
    ("text", "ast"),
    [
        ("", None),
        ("   ", None),
        ("fentanyl", Text(("fentanyl",))),
        ("Fentanyl", Text(("fentanyl",))),
        ('"china white"', Text(("china", "white"))),
        ("china white", And((Text(("china",)), Text(("white",))))),
        ("a OR b c", Or((Text(("a",)), And((Text(("b",)), Text(("c",))))))),
        ("(a OR b) c", And((Or((Text(("a",)), Text(("b",)))), Text(("c",))))),
        ("a AND NOT b", And((Text(("a",)), Not(Text(("b",)))))),
        ("-b", Not(Text(("b",)))),
        ("NOT NOT a", Not(Not(Text(("a",))))),
        ("3-MMC", Text(("3", "mmc"))),
        ("0.5g", Text(("0", "5g"))),
        ("title:pure", Text(("pure",), "title")),
        ('description:"lab tested"', Text(("lab", "tested"), "description")),
        ("vendor:GreenDragon", Keyword("vendor", "greendragon")),
        ('market:"Dream Market"', Keyword("market", "dream market")),
        ("substance_class:opioid", Keyword("class", "opioid")),
        ("SHIPS_FROM:NL", Keyword("ships_from", "nl")),
        ("!!", MatchNone()),
        ("a-", Text(("a",))),
        ("and or not", And((Text(("and",)), Text(("or",)), Text(("not",))))),
    ],
)
def test_parse(text: str, ast: object) -> None:
    assert parse_query(text) == ast


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(fentanyl", "unclosed '\\(' at position 1"),
        ("fentanyl)", "unexpected '\\)' at position 9"),
        (")", "unmatched '\\)' at position 1"),
        ('"china white', "unterminated quote starting at position 1"),
        ("colour:blue", "unknown field 'colour' at position 1"),
        ("vendor:", "field 'vendor' at position 1 has no value"),
        ("vendor: x", "has no value"),
        ("a OR", "query ends where a term was expected"),
        ("OR a", "operator 'OR' at position 1 needs a term on both sides"),
        ("a AND AND b", "operator 'AND' at position 7"),
        ("()", "empty parentheses"),
        ('market:"  "', "empty value"),
        ("x" * 2001, "longer than 2000"),
    ],
)
def test_malformed(text: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message):
        parse_query(text)


def test_search_query_validates_its_text() -> None:
    with pytest.raises(QuerySyntaxError):
        SearchQuery(text="(")


def test_deep_paging_is_refused() -> None:
    with pytest.raises(ValueError, match="export"):
        SearchQuery(offset=9990, limit=20)


def test_body_text_and_filters() -> None:
    q = SearchQuery(
        text='"china white" OR vendor:Acme -title:sample',
        market="Abacus",
        substance_class="opioid",
        price_per_gram_min=Decimal("10"),
        price_per_gram_max=Decimal("99.5"),
        last_seen_from=datetime(2026, 11, 1, tzinfo=UTC),
        removed=False,
        facets=("market", "class"),
        facet_size=5,
        limit=10,
        offset=20,
    )
    page = build_search_body(q)
    assert page == {
        "query": {
            "bool": {
                "must": [
                    {
                        "bool": {
                            "should": [
                                {
                                    "multi_match": {
                                        "query": "china white",
                                        "type": "phrase",
                                        "fields": TEXT_FIELDS,
                                    }
                                },
                                {
                                    "bool": {
                                        "must": [
                                            {"term": {"vendor_norm": "acme"}},
                                            {
                                                "bool": {
                                                    "must_not": [{"match_phrase": {"search.title": "sample"}}]
                                                }
                                            },
                                        ]
                                    }
                                },
                            ],
                            "minimum_should_match": 1,
                        }
                    }
                ],
                "filter": [
                    {"term": {"market_norm": "abacus"}},
                    {"term": {"classes": "opioid"}},
                    {"range": {"price_per_gram_usd": {"gte": 10.0, "lte": 99.5}}},
                    {"range": {"last_seen": {"gte": "2026-11-01T00:00:00.000000Z"}}},
                    {"term": {"removed": False}},
                ],
            }
        },
        "sort": ["_score", {"last_seen": "desc"}, {"key": "asc"}],
        "from": 20,
        "size": 10,
        "track_total_hits": False,
    }
    # the total and the facets: the same query as a filter (nothing scored), no hits
    assert build_count_body(q) == {
        "query": {"bool": {"filter": [page["query"]]}},
        "size": 0,
        "track_total_hits": True,
        "aggs": {
            "market": {
                "terms": {
                    "field": "market",
                    "size": 5,
                    "shard_size": 1000,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            },
            "class": {
                "terms": {
                    "field": "classes",
                    "size": 5,
                    "shard_size": 1000,
                    "order": [{"_count": "desc"}, {"_key": "asc"}],
                }
            },
        },
    }


def test_body_match_all_and_sorts() -> None:
    body = build_search_body(SearchQuery())
    assert body["query"] == {"match_all": {}}
    assert body["sort"] == [{"last_seen": "desc"}, {"key": "asc"}]
    assert "aggs" not in build_count_body(SearchQuery())
    body = build_search_body(SearchQuery(sort="-price_per_gram"))
    assert body["sort"] == [{"price_per_gram_usd": {"order": "desc", "missing": "_last"}}, {"key": "asc"}]
    assert compile_node(MatchNone()) == {"match_none": {}}
    assert compile_node(Keyword("substance", "heroin")) == {"term": {"substance_keys": "heroin"}}


def test_export_body_pages_by_key() -> None:
    body = build_export_body(SearchQuery(text="fentanyl"), 500, ["abacus:9"])
    assert body == {
        "query": {
            "bool": {
                "must": [{"multi_match": {"query": "fentanyl", "type": "phrase", "fields": TEXT_FIELDS}}]
            }
        },
        "sort": [{"key": "asc"}],
        "size": 500,
        "track_total_hits": False,
        "search_after": ["abacus:9"],
    }


def test_yes_no_facet_is_a_filter_and_the_rest_of_the_matches() -> None:
    """A terms aggregation on the boolean would collect every document (and keep the keyword
    facets from being answered from term counts): true is a filter, false the other matches."""
    query = SearchQuery(facets=("has_wallet", "market"), facet_size=1)
    aggs = build_count_body(query)["aggs"]
    assert aggs["has_wallet"] == {"filter": {"term": {"has_wallet": True}}}
    assert aggs["market"]["terms"]["field"] == "market"
    assert facet_buckets(query, {"doc_count": 3}, 10) == (FacetBucket(value="false", count=7),)
    both = SearchQuery(facets=("has_wallet",))
    assert facet_buckets(both, {"doc_count": 5}, 5) == (FacetBucket(value="true", count=5),)
    assert facet_buckets(both, {"doc_count": 2}, 4) == (
        FacetBucket(value="false", count=2),
        FacetBucket(value="true", count=2),
    )
    assert facet_buckets(both, {"doc_count": 0}, 0) == ()
    terms = {"buckets": [{"key": "abacus", "doc_count": 4}]}
    assert facet_buckets(query, terms, 9) == (FacetBucket(value="abacus", count=4),)


def test_multi_search_item_errors_raise_like_a_single_search() -> None:
    """msearch answers 200 and reports each search's failure in its item (shape as the server
    sends it): a rejected search is a StoreError, an overloaded one StoreUnavailableError."""
    ok = {"hits": {"total": {"value": 1}}, "status": 200}
    assert _answer(ok, "search") is ok
    bad = {"error": {"type": "query_shard_exception", "reason": "failed to create query"}, "status": 400}
    with pytest.raises(StoreError, match="400 query_shard_exception: failed to create query"):
        _answer(bad, "search")
    busy = {"error": {"type": "es_rejected_execution_exception", "reason": "queue full"}, "status": 429}
    with pytest.raises(StoreUnavailableError, match="429"):
        _answer(busy, "search")
