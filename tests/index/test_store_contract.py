"""The store contract (onionwatch/index/store.py), run against every backend."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from onionwatch.errors import QuerySyntaxError
from onionwatch.index.query import SearchQuery
from onionwatch.index.store import Store
from onionwatch.models import EventKind

from .corpus import T0, corpus, listing


def kinds(result: Any) -> list[str]:
    return sorted(e.kind.value for e in result.events)


def test_is_a_store(store: Any) -> None:
    assert isinstance(store, Store)


def test_setup_is_idempotent(store: Any) -> None:
    store.setup()
    store.setup()
    assert store.count_listings() == 0


def test_recrawl_is_idempotent_first_seen_kept_last_seen_moves(store: Any) -> None:
    first = listing("abacus", "1", title="1g fentanyl", vendor="Acme", at=T0, substances=("fentanyl",))
    again = listing(
        "abacus",
        "1",
        title="1g fentanyl",
        vendor="Acme",
        at=T0 + timedelta(days=1),
        substances=("fentanyl",),
        crawl_id="crawl-2",
    )
    r1 = store.write([first])
    r2 = store.write([again])
    assert (r1.written, r1.created, r1.updated) == (1, 1, 0)
    assert (r2.written, r2.created, r2.updated) == (1, 0, 1)
    assert store.count_listings() == 1
    assert store.count_observations() == 2
    got = store.get("abacus", "1")
    assert got is not None
    assert got.first_seen == T0
    assert got.last_seen == T0 + timedelta(days=1)
    assert got.observations == 2
    assert got.removed is False
    assert r2.events == ()


def test_replaying_the_same_observation_appends_nothing(store: Any) -> None:
    obs = listing("abacus", "1", title="1g fentanyl", vendor="Acme", at=T0)
    store.write([obs])
    replay = store.write([obs])
    assert (replay.written, replay.created, replay.updated, replay.events) == (0, 0, 0, ())
    assert store.count_observations() == 1
    got = store.get("abacus", "1")
    assert got is not None and got.observations == 1


def test_late_observation_does_not_roll_back_the_latest_view(store: Any) -> None:
    store.write([listing("abacus", "1", title="new title", vendor="Acme", at=T0 + timedelta(days=2))])
    store.write([listing("abacus", "1", title="old title", vendor="Acme", at=T0, crawl_id="c0")])
    got = store.get("abacus", "1")
    assert got is not None
    assert got.listing.title == "new title"
    assert got.first_seen == T0
    assert got.last_seen == T0 + timedelta(days=2)
    assert got.observations == 2
    # the late write changed first_seen only: everything searchable is still the newest view
    assert store.search(SearchQuery(text='"new title"', vendor="acme", first_seen_to=T0)).total == 1
    assert store.search(SearchQuery(text="old")).total == 0


def test_new_events(store: Any) -> None:
    r = store.write(
        [listing("abacus", "1", title="fent", vendor="Acme", at=T0, substances=("fentanyl", "heroin"))]
    )
    assert kinds(r) == [
        "new_listing",
        "new_vendor",
        "new_vendor_market",
        "new_vendor_substance",
        "new_vendor_substance",
    ]
    subs = sorted(e.substance for e in r.events if e.kind == EventKind.NEW_VENDOR_SUBSTANCE)
    assert subs == ["fentanyl", "heroin"]
    assert all(e.vendor == "Acme" and e.market == "abacus" and e.at == T0 for e in r.events)

    # Same vendor (other case), new market and one new substance: no "new vendor".
    r = store.write(
        [
            listing(
                "bohemia",
                "9",
                title="x",
                vendor="ACME",
                at=T0 + timedelta(hours=1),
                substances=("heroin", "mdma"),
            )
        ]
    )
    assert kinds(r) == ["new_listing", "new_vendor_market", "new_vendor_substance"]
    assert [e.substance for e in r.events if e.kind == EventKind.NEW_VENDOR_SUBSTANCE] == ["mdma"]


def test_price_change_event(store: Any) -> None:
    store.write(
        [listing("abacus", "1", title="t", vendor="A", at=T0, price_usd=Decimal("100"), grams=Decimal(1))]
    )
    same = store.write(
        [
            listing(
                "abacus",
                "1",
                title="t",
                vendor="A",
                at=T0 + timedelta(hours=1),
                price_usd=Decimal("100.00"),
                grams=Decimal(1),
                crawl_id="c2",
            )
        ]
    )
    assert same.events == ()
    drop = store.write(
        [
            listing(
                "abacus",
                "1",
                title="t",
                vendor="A",
                at=T0 + timedelta(hours=2),
                price_usd=Decimal("80"),
                grams=Decimal(1),
                crawl_id="c3",
            )
        ]
    )
    assert [e.kind for e in drop.events] == [EventKind.PRICE_CHANGE]
    event = drop.events[0]
    assert event.old_price is not None and event.old_price.amount == Decimal("100.00")
    assert event.new_price is not None and event.new_price.amount == Decimal("80")
    assert event.listing_id == "1"


def test_baseline_records_keys_without_events(store: Any) -> None:
    r = store.write(
        [listing("abacus", "1", title="t", vendor="A", at=T0, substances=("cocaine",))], baseline=True
    )
    assert r.events == ()
    assert (r.written, r.created) == (1, 1)
    # The keys exist: the same facts are not "new" afterwards.
    r = store.write(
        [
            listing(
                "abacus",
                "1",
                title="t",
                vendor="A",
                at=T0 + timedelta(hours=1),
                substances=("cocaine",),
                crawl_id="c2",
            )
        ]
    )
    assert r.events == ()
    r = store.write(
        [listing("abacus", "2", title="t", vendor="A", at=T0 + timedelta(hours=2), substances=("cocaine",))]
    )
    assert kinds(r) == ["new_listing"]


def test_concurrent_writers_create_a_new_vendor_once(store_factory: Any) -> None:
    stores = [store_factory(), store_factory()]
    stores[0].setup()
    barrier = threading.Barrier(len(stores))
    results: list[Any] = [None] * len(stores)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            obs = [
                listing(
                    "abacus",
                    f"w{i}-{j}",
                    title="fent",
                    vendor="NewGuy",
                    at=T0 + timedelta(minutes=j),
                    substances=("fentanyl",),
                    crawl_id=f"crawl-{i}",
                )
                for j in range(5)
            ]
            barrier.wait()
            results[i] = stores[i].write(obs)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    all_events = [e for r in results for e in r.events]
    assert sum(e.kind == EventKind.NEW_VENDOR for e in all_events) == 1
    assert sum(e.kind == EventKind.NEW_VENDOR_MARKET for e in all_events) == 1
    assert sum(e.kind == EventKind.NEW_VENDOR_SUBSTANCE for e in all_events) == 1
    assert sum(e.kind == EventKind.NEW_LISTING for e in all_events) == 10
    assert stores[0].count_listings() == 10


def test_vendors(store: Any) -> None:
    store.write(
        [
            listing("abacus", "1", title="a", vendor="Acme", at=T0),
            listing("abacus", "2", title="b", vendor="acme", at=T0 + timedelta(days=1)),
            listing("bohemia", "3", title="c", vendor="Acme", at=T0 + timedelta(days=2)),
            listing("bohemia", "4", title="d", vendor=None, at=T0),
        ]
    )
    vendors = store.vendors()
    assert [(v.market, v.handle.lower(), v.listing_count) for v in vendors] == [
        ("abacus", "acme", 2),
        ("bohemia", "acme", 1),
    ]
    abacus = store.vendors("abacus")[0]
    assert abacus.first_seen == T0 and abacus.last_seen == T0 + timedelta(days=1)
    assert [v.market for v in store.vendors("bohemia")] == ["bohemia"]


def test_vendor_profile(store: Any) -> None:
    store.write(
        [
            listing(
                "abacus",
                "1",
                title="a",
                vendor="Acme",
                at=T0,
                substances=("cocaine",),
                price_usd=Decimal(100),
                grams=Decimal(2),
            ),
            listing(
                "bohemia",
                "2",
                title="b",
                vendor="ACME",
                at=T0 + timedelta(days=1),
                substances=("mdma",),
                price_usd=Decimal(30),
                grams=Decimal(1),
            ),
        ]
    )
    store.write(
        [
            listing(
                "abacus",
                "1",
                title="a",
                vendor="Acme",
                at=T0 + timedelta(days=3),
                substances=("cocaine",),
                price_usd=Decimal(90),
                grams=Decimal(2),
                crawl_id="c2",
            )
        ]
    )
    profile = store.vendor_profile("acme")
    assert profile is not None
    assert [m.market for m in profile.markets] == ["abacus", "bohemia"]
    assert profile.markets[0].first_seen == T0 and profile.markets[0].last_seen == T0 + timedelta(days=3)
    assert profile.substances == ("cocaine", "mdma")
    assert sorted(item.listing.listing_id for item in profile.listings) == ["1", "2"]
    assert [p.price_per_gram_usd for p in profile.price_history["cocaine"]] == [Decimal(50), Decimal(45)]
    assert store.vendor_profile("nobody") is None


def test_mark_removed(store: Any) -> None:
    store.write(
        [
            listing("abacus", "1", title="a", vendor="A", at=T0),
            listing("abacus", "2", title="b", vendor="A", at=T0),
        ]
    )
    store.write([listing("abacus", "2", title="b", vendor="A", at=T0 + timedelta(days=1), crawl_id="c2")])
    r = store.mark_removed("abacus", T0 + timedelta(hours=12))
    assert [(e.kind, e.listing_id) for e in r.events] == [(EventKind.REMOVED, "1")]
    assert store.mark_removed("abacus", T0 + timedelta(hours=12)).events == ()
    got = store.get("abacus", "1")
    assert got is not None and got.removed
    assert store.search(SearchQuery(removed=True)).total == 1
    assert store.search(SearchQuery(removed=False)).total == 1
    store.write([listing("abacus", "1", title="a", vendor="A", at=T0 + timedelta(days=2), crawl_id="c3")])
    got = store.get("abacus", "1")
    assert got is not None and not got.removed


# --- search ------------------------------------------------------------------------------------

QUERIES: list[dict[str, Any]] = [
    {},
    {"text": "fentanyl"},
    {"text": "acetylfentanyl"},
    {"text": '"china white"'},
    {"text": "china white"},
    {"text": "white china"},
    {"text": '"white china"'},
    {"text": "cocaine OR heroin"},
    {"text": "stealth AND NOT uncut"},
    {"text": "NOT fentanyl"},
    {"text": "-fentanyl pure"},
    {"text": "(mdma OR cocaine) express"},
    {"text": "title:premium"},
    {"text": "description:premium"},
    {"text": "vendor:greendragon"},
    {"text": "vendor:GreenDragon OR vendor:nightowl"},
    {"text": "substance:protonitazene"},
    {"text": "class:stimulant -cocaine"},
    {"text": "market:bohemia ships_from:nl"},
    {"text": "ships_to:ca"},
    {"text": "3-MMC"},
    {"text": "0.5g"},
    {"text": "cafe"},
    {"text": "café"},
    {"text": "don't"},
    {"text": "blue_lotus"},
    {"text": "!!"},
    {"market": "cypher"},
    {"vendor": "PHARMAKING"},
    {"substance": "fentanyl"},
    {"substance_class": "opioid"},
    {"ships_from": "DE"},
    {"ships_to": "us"},
    {"price_per_gram_min": Decimal(50), "price_per_gram_max": Decimal(100)},
    {"price_per_gram_max": Decimal(20)},
    {"first_seen_from": T0 + timedelta(hours=10), "first_seen_to": T0 + timedelta(hours=20)},
    {"last_seen_from": T0 + timedelta(hours=50)},
    {"removed": False, "market": "abacus"},
    {"text": "pure OR stealth", "substance_class": "stimulant"},
    {"text": "fentanyl OR vendor:greendragon"},
    {"text": "(pure OR fentanyl) market:abacus"},
    {"text": "pure OR NOT fentanyl"},
    {"text": "pure title:premium"},
    {"text": '(title:premium OR "china white") -uncut'},
]


def _load(store: Any) -> None:
    store.write(corpus())


@pytest.mark.parametrize("spec", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_search_matches_reference(store: Any, spec: dict[str, Any]) -> None:
    """Every backend returns exactly the keys a brute-force evaluation over the corpus returns."""
    _load(store)
    query = SearchQuery(limit=1000, sort="last_seen", **spec)
    result = store.search(query)
    expected = reference(query)
    assert result.total == len(expected)
    assert [(h.listing.market, h.listing.listing_id) for h in result.hits] == expected


@pytest.mark.parametrize("spec", QUERIES, ids=[str(i) for i in range(len(QUERIES))])
def test_relevance_search_matches_reference(store: Any, spec: dict[str, Any]) -> None:
    """Ranked by relevance, the same matches (backends rank them each their own way)."""
    _load(store)
    query = SearchQuery(limit=1000, sort="relevance", facets=("market", "substance"), **spec)
    result = store.search(query)
    expected = reference(query)
    assert result.total == len(expected)
    assert sorted((h.listing.market, h.listing.listing_id) for h in result.hits) == sorted(expected)
    facets = reference_facets(query)
    assert result.facets == {name: facets[name] for name in query.facets}


def test_search_sort_pagination_and_facets(store: Any) -> None:
    _load(store)
    full = store.search(SearchQuery(sort="price_per_gram", limit=1000))
    prices = [h for h in full.hits]
    keys = [(h.listing.market, h.listing.listing_id) for h in prices]
    page = store.search(SearchQuery(sort="price_per_gram", limit=7, offset=7))
    assert [(h.listing.market, h.listing.listing_id) for h in page.hits] == keys[7:14]
    assert page.total == full.total == 60
    desc = store.search(SearchQuery(sort="-price_per_gram", limit=1000))
    priced = [k for k, h in zip(keys, prices, strict=True) if _ppg(h) is not None]
    assert [(h.listing.market, h.listing.listing_id) for h in desc.hits][: len(priced)] == sorted(
        priced, key=lambda k: (-_ppg_of(prices, k), k[0] + ":" + k[1])
    )
    faceted = store.search(
        SearchQuery(
            text="pure OR stealth", facets=("market", "vendor", "substance", "class", "ships_from"), limit=0
        )
    )
    assert faceted.hits == ()
    assert faceted.facets == reference_facets(SearchQuery(text="pure OR stealth", limit=1000))
    first = store.search(SearchQuery(sort="first_seen", limit=3))
    assert [h.listing.listing_id for h in first.hits] == ["L0059", "L0058", "L0057"]


def test_relevance_sort_returns_all_matches(store: Any) -> None:
    _load(store)
    result = store.search(SearchQuery(text="pure OR fentanyl", limit=1000))
    assert sorted((h.listing.market, h.listing.listing_id) for h in result.hits) == sorted(
        reference(SearchQuery(text="pure OR fentanyl", limit=1000))
    )


def test_export_yields_every_match_in_key_order(store: Any) -> None:
    _load(store)
    got = [
        (s.listing.market, s.listing.listing_id)
        for s in store.export(SearchQuery(text="NOT uncut"), batch_size=7)
    ]
    assert got == sorted(reference(SearchQuery(text="NOT uncut", limit=1000)), key=lambda k: f"{k[0]}:{k[1]}")


def test_malformed_query_is_rejected() -> None:
    with pytest.raises(QuerySyntaxError, match="unclosed"):
        SearchQuery(text="(fentanyl OR heroin")
    with pytest.raises(QuerySyntaxError, match="unknown field"):
        SearchQuery(text="colour:blue")


# --- reference evaluation (brute force over the corpus) ------------------------------------------

from onionwatch.index import derive  # noqa: E402
from onionwatch.index.query import And, Keyword, MatchNone, Not, Or, Text  # noqa: E402


def _fields(obs: Any) -> dict[str, list[str]]:
    lst, enr = obs.listing, obs.enrichment
    handle = derive.vendor_handle(lst, enr)
    return {
        "title": derive.search_tokens(lst.title),
        "description": derive.search_tokens(lst.description),
        "vendor": derive.search_tokens(handle),
        "substances": derive.substances_text(enr).split(),
    }


def _phrase_in(tokens: tuple[str, ...], words: list[str]) -> bool:
    n = len(tokens)
    return any(tuple(words[i : i + n]) == tokens for i in range(len(words) - n + 1))


def _eval(node: Any, obs: Any) -> bool:
    lst, enr = obs.listing, obs.enrichment
    if isinstance(node, Text):
        fields = _fields(obs)
        names = [node.field] if node.field else list(fields)
        return any(_phrase_in(node.tokens, fields[n]) for n in names)
    if isinstance(node, Keyword):
        v = node.value
        if node.field == "market":
            return derive.norm_key(lst.market) == v
        if node.field == "vendor":
            return derive.norm_key(derive.vendor_handle(lst, enr)) == v
        if node.field == "ships_from":
            return derive.norm_key(lst.ships_from) == v
        if node.field == "ships_to":
            return v in {derive.norm_key(c) for c in lst.ships_to}
        if node.field == "substance":
            return any(d.id == v or derive.norm_key(d.name) == v for d in enr.drugs)
        if node.field == "class":
            return any(d.cls == v for d in enr.drugs)
        raise AssertionError(node.field)
    if isinstance(node, And):
        return all(_eval(c, obs) for c in node.children)
    if isinstance(node, Or):
        return any(_eval(c, obs) for c in node.children)
    if isinstance(node, Not):
        return not _eval(node.child, obs)
    if isinstance(node, MatchNone):
        return False
    raise AssertionError(node)


def _matches(q: SearchQuery, obs: Any) -> bool:
    ast = q.ast
    if ast is not None and not _eval(ast, obs):
        return False
    for name, value in (
        ("market", q.market),
        ("vendor", q.vendor),
        ("substance", q.substance),
        ("class", q.substance_class),
        ("ships_from", q.ships_from),
        ("ships_to", q.ships_to),
    ):
        if value is not None and not _eval(Keyword(name, derive.norm_key(value) or ""), obs):
            return False
    ppg = derive.price_per_gram_usd(obs.enrichment)
    if q.price_per_gram_min is not None and (ppg is None or ppg < q.price_per_gram_min):
        return False
    if q.price_per_gram_max is not None and (ppg is None or ppg > q.price_per_gram_max):
        return False
    at = obs.observed_at
    if q.first_seen_from is not None and at < q.first_seen_from:
        return False
    if q.first_seen_to is not None and at > q.first_seen_to:
        return False
    if q.last_seen_from is not None and at < q.last_seen_from:
        return False
    if q.last_seen_to is not None and at > q.last_seen_to:
        return False
    return not q.removed


def reference(q: SearchQuery) -> list[tuple[str, str]]:
    matched = [o for o in corpus() if _matches(q, o)]
    matched.sort(key=lambda o: (-o.observed_at.timestamp(), o.key))
    return [(o.listing.market, o.listing.listing_id) for o in matched]


def reference_facets(q: SearchQuery) -> dict[str, tuple[Any, ...]]:
    from collections import Counter

    from onionwatch.index.query import FacetBucket

    matched = [o for o in corpus() if _matches(q, o)]
    counters: dict[str, Counter[str]] = {
        n: Counter() for n in ("market", "vendor", "substance", "class", "ships_from")
    }
    for o in matched:
        counters["market"][o.listing.market] += 1
        if h := derive.vendor_handle(o.listing, o.enrichment):
            counters["vendor"][h] += 1
        for s in set(o.enrichment.substances):
            counters["substance"][s] += 1
        for c in set(o.enrichment.classes):
            counters["class"][c] += 1
        if o.listing.ships_from:
            counters["ships_from"][o.listing.ships_from] += 1
    return {
        n: tuple(
            FacetBucket(value=v, count=c) for v, c in sorted(cnt.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
        )
        for n, cnt in counters.items()
    }


def _ppg(h: Any) -> Decimal | None:
    return derive.price_per_gram_usd(h.enrichment)


def _ppg_of(hits: list[Any], key: tuple[str, str]) -> Decimal:
    for h in hits:
        if (h.listing.market, h.listing.listing_id) == key:
            value = _ppg(h)
            assert value is not None
            return value
    raise AssertionError(key)
