"""The Elasticsearch store: same contract as the SQLite store, for teams and scale.

Write path of one batch (every step idempotent, so a replay after a crash or outage converges):

1. One ``mget`` (realtime): which of the batch's observation ids (deterministic, in monthly
   indices) exist, and the current listing and vendor documents. An observation that exists was
   fully applied before, because observations are written *last*; it is skipped.
2. One bulk request with
   - first-seen keys as ``create`` (``op_type=create``): 201 = new, 409 = already seen. When a
     spooled batch is replayed, a 409 key that names this very observation was created by the
     failed attempt and never reported, so its event is reported now. Keys known to exist are
     remembered per store and not sent again;
   - listings and vendors as ``create`` when absent, else ``index`` of the full document guarded by
     ``if_seq_no``/``if_primary_term`` (the version read in step 1). first_seen = min, last_seen =
     max, content from the newest observation, computed in Python from the document read.
     doc+upsert alone is not enough without scripts: it keeps first_seen (upsert-only field) but
     cannot keep ``max(last_seen)`` under out-of-order writes, cannot tell a price change, and two
     writers would overwrite each other. A 409 from the sequence-number check re-reads and
     retries. The observation count is not stored: it is counted from the observations index;
   - the crawl run as ``update`` with ``doc`` + ``upsert`` (first_observed is upsert-only).
3. One bulk request creating the observations in ``<prefix>-observations-v1-YYYY.MM``.

Bulk calls go through ``helpers.streaming_bulk`` (retries 429 with backoff) with per-item
accounting in :attr:`ElasticsearchStore.stats`. When the cluster is unreachable the batch goes to a
local durable spool (``spool.py``) and :class:`StoreUnavailableError` is raised; the next write
replays the spool first. Errors from the client are translated into the project's exception tree
here; credentials never appear in messages or logs.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from elasticsearch import (
    ApiError,
    ConnectionError,
    ConnectionTimeout,
    Elasticsearch,
    NotFoundError,
    TransportError,
    helpers,
)
from elasticsearch.serializer import OrjsonSerializer

from onionwatch.errors import StoreError, StoreUnavailableError
from onionwatch.index import derive, identity, schema
from onionwatch.index.es_query import build_count_body, build_export_body, build_search_body, facet_buckets
from onionwatch.index.profile import PricePoint, VendorMarket, VendorProfile, add_price_points
from onionwatch.index.query import SearchQuery, SearchResult
from onionwatch.index.spool import Spool
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
)
from onionwatch.settings import ElasticsearchSettings

log = logging.getLogger(__name__)

_UNAVAILABLE_STATUS = frozenset({429, 502, 503, 504})
_PIT_KEEP_ALIVE = "2m"
#: first-seen key ids known to exist, remembered per store to skip doomed creates (bounded)
_KNOWN_KEYS_MAX = 1_000_000


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, f"***@{host}", parts.path, parts.query, parts.fragment))
    return url


def make_client(settings: ElasticsearchSettings) -> Elasticsearch:
    """Client from :class:`~onionwatch.settings.ElasticsearchSettings`; connects lazily."""
    kwargs: dict[str, Any] = {
        "request_timeout": settings.request_timeout,
        # One quick retry across transient blips; outages are handled by the spool, not by waiting.
        "max_retries": 1,
        "retry_on_timeout": True,
    }
    if settings.api_key is not None:
        kwargs["api_key"] = settings.api_key.get_secret_value()
    elif settings.username is not None:
        password = settings.password.get_secret_value() if settings.password is not None else ""
        kwargs["basic_auth"] = (settings.username, password)
    if settings.ca_certs is not None:
        kwargs["ca_certs"] = str(settings.ca_certs)
    # orjson (a dependency) serialises the bulk bodies: with the json module, encoding them was
    # a third of the writer's Python time
    return Elasticsearch(settings.url, serializer=OrjsonSerializer(), **kwargs)


def _error_reason(error: object) -> str | None:
    if isinstance(error, dict):
        return f"{error.get('type')}: {error.get('reason')}"
    return None


def _reason(exc: ApiError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    return _error_reason(body.get("error")) or str(exc.message)


def _refused(action: str, status: int, reason: str) -> StoreError:
    """The error for a request the server answered with ``status``: overload and gateway
    statuses mean "try again later" (StoreUnavailableError), the rest a refusal."""
    message = f"elasticsearch {action}: {status} {reason}"
    return StoreUnavailableError(message) if status in _UNAVAILABLE_STATUS else StoreError(message)


def _answer(item: dict[str, Any], action: str) -> dict[str, Any]:
    """One response of a multi-search; its error raised as a single search's would be."""
    error = item.get("error")
    if error is None:
        return item
    raise _refused(action, int(item.get("status", 500)), _error_reason(error) or str(error))


class ElasticsearchStore:
    def __init__(
        self,
        settings: ElasticsearchSettings,
        *,
        spool_dir: Path | None = None,
        refresh: bool = False,
        client: Elasticsearch | None = None,
        chunk_size: int = 2000,
        max_conflict_retries: int = 20,
    ) -> None:
        self.prefix: str = settings.index_prefix
        self._url = redact_url(settings.url)
        self._client = client if client is not None else make_client(settings)
        self._owns_client = client is None
        self._refresh = refresh
        self._chunk_size = chunk_size
        self._max_conflict_retries = max_conflict_retries
        self._spool = Spool((spool_dir or Path("var") / "spool") / f"{self.prefix}-elasticsearch.sqlite")
        self._lock = threading.RLock()
        self._ready = False
        #: events from spool replays that could not be returned yet (the write that replayed them failed)
        self._undelivered: list[Event] = []
        self._known_keys: set[str] = set()
        #: per-item bulk accounting: "bulk/<op>/<status>", "spooled", "replayed", "conflict_retries"
        self.stats: Counter[str] = Counter()

    # --- plumbing ----------------------------------------------------------------------------

    @contextmanager
    def _translated(self, action: str) -> Iterator[None]:
        try:
            yield
        except (ConnectionError, ConnectionTimeout) as exc:
            raise StoreUnavailableError(
                f"elasticsearch at {self._url} unreachable during {action}: {type(exc).__name__}"
            ) from exc
        except ApiError as exc:
            raise _refused(action, exc.meta.status, _reason(exc)) from exc
        except TransportError as exc:
            raise StoreUnavailableError(
                f"elasticsearch {action}: {type(exc).__name__}: {exc.message}"
            ) from exc

    def alias(self, spec: schema.IndexSpec) -> str:
        return spec.alias(self.prefix)

    @property
    def client(self) -> Elasticsearch:
        return self._client

    @property
    def spool(self) -> Spool:
        return self._spool

    def close(self) -> None:
        self._spool.close()
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> ElasticsearchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- schema ------------------------------------------------------------------------------

    def setup(self) -> None:
        with self._translated("setup"):
            indices = self._client.indices
            for spec in schema.ALL:
                indices.put_index_template(**schema.index_template(spec, self.prefix))
            for spec in schema.ALL:
                if spec.monthly:
                    continue  # months are created by their first write, aliased by the template
                alias = self.alias(spec)
                if indices.exists_alias(name=alias):
                    # fields added since the index was created (additive only: a changed field
                    # needs `index migrate`)
                    indices.put_mapping(index=alias, properties=spec.mappings["properties"])
                    continue
                try:
                    indices.create(index=spec.index(self.prefix), aliases={alias: {}})
                except ApiError as exc:
                    # A concurrent setup won the race: fine, the index exists.
                    if "resource_already_exists" not in _reason(exc):
                        raise
        self._ready = True

    def _ensure_ready(self) -> None:
        if not self._ready:
            self.setup()

    def _bulk(self, actions: list[dict[str, Any]], action: str) -> dict[str, dict[str, Any]]:
        """Run bulk actions; return the item result per ``_id``; 409s are returned, not raised."""
        results: dict[str, dict[str, Any]] = {}
        if not actions:
            return results
        with self._translated(action):
            for _ok, item in helpers.streaming_bulk(
                self._client,
                actions,
                chunk_size=self._chunk_size,
                max_retries=5,
                initial_backoff=0.2,
                max_backoff=5,
                retry_on_status=(429,),
                raise_on_error=False,
                raise_on_exception=True,
                yield_ok=True,
                expand_action_callback=_expand_action,
                # the per-item fields read below, and no more: decoding whole responses was
                # 7 % of the writer's time
                filter_path=_BULK_RESPONSE_FIELDS,
            ):
                ((op, info),) = item.items()
                status = int(info.get("status", 500))
                self.stats[f"bulk/{op}/{status}"] += 1
                results[str(info["_id"])] = info
        failed = {
            i: r for i, r in results.items() if int(r.get("status", 500)) >= 300 and r.get("status") != 409
        }
        if failed:
            statuses = Counter(int(r.get("status", 500)) for r in failed.values())
            first = next(iter(failed.values())).get("error")
            message = (
                f"elasticsearch {action}: {len(failed)} of {len(actions)} items failed"
                f" {dict(statuses)}: {first}"
            )
            if set(statuses) <= _UNAVAILABLE_STATUS:
                raise StoreUnavailableError(message)
            raise StoreError(message)
        return results

    def _mget(self, index: str | None, docs: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
        if not docs:
            return []
        with self._translated(action):
            if index is None:
                resp = self._client.mget(docs=docs)
            else:
                resp = self._client.mget(index=index, docs=docs)
        return list(resp["docs"])

    # --- writing -----------------------------------------------------------------------------

    def write(self, observations: Sequence[Observation], *, baseline: bool = False) -> WriteResult:
        batch = list(observations)
        with self._lock:
            results: list[WriteResult] = []
            try:
                self._ensure_ready()
                results.extend(self._drain_spool())
                results.append(self._apply(batch, baseline))
            except StoreUnavailableError as exc:
                for r in results:
                    self._undelivered.extend(r.events)
                if batch:
                    self._spool.append(batch, baseline)
                    self.stats["spooled"] += len(batch)
                raise StoreUnavailableError(
                    f"{exc}; {len(batch)} observations spooled ({self._spool.pending()} pending),"
                    " replayed by the next write"
                ) from exc
            events = [*self._undelivered, *(e for r in results for e in r.events)]
            self._undelivered.clear()
        return WriteResult(
            written=sum(r.written for r in results),
            created=sum(r.created for r in results),
            updated=sum(r.updated for r in results),
            events=tuple(events),
        )

    def flush_spool(self) -> WriteResult:
        """Replay spooled batches now (also done at the start of every write)."""
        return self.write([])

    def _drain_spool(self) -> list[WriteResult]:
        out: list[WriteResult] = []
        while (item := self._spool.oldest()) is not None:
            batch_id, baseline, observations = item
            try:
                out.append(self._apply(observations, baseline, recovering=True))
            except StoreUnavailableError:
                raise
            except StoreError as exc:
                # Refused, not unreachable: retrying will not help, and it must not block the
                # batches behind it.
                log.error("spooled batch %d refused, set aside in %s: %s", batch_id, self._spool.path, exc)
                self._spool.bury(batch_id, str(exc))
                self.stats["dead"] += len(observations)
                continue
            self._spool.remove(batch_id)
            self.stats["replayed"] += len(observations)
            log.info("replayed %d spooled observations", len(observations))
        return out

    def _apply(self, batch: list[Observation], baseline: bool, *, recovering: bool = False) -> WriteResult:
        """Apply one batch in three round trips: one mget (applied observations, current listing
        and vendor documents), one bulk (first-seen keys, listings, vendors, crawl runs), one bulk
        (observations, last). Conflicting listing/vendor writes are re-read and retried."""
        empty = WriteResult(written=0, created=0, updated=0)
        if not batch:
            return empty
        by_id: dict[str, Observation] = {}
        for obs in batch:
            by_id.setdefault(derive.observation_id(obs), obs)
        ordered = sorted(by_id.items(), key=lambda p: (p[1].observed_at, p[0]))
        listing_groups = _group_listings(ordered)
        vendor_groups = _group_vendors(ordered)
        listings_index, vendors_index = self.alias(schema.LISTINGS), self.alias(schema.VENDORS)
        docs = (
            [
                {"_index": schema.observation_index(self.prefix, o.observed_at), "_id": oid, "_source": False}
                for oid, o in by_id.items()
            ]
            + [{"_index": listings_index, "_id": i} for i in listing_groups]
            + [{"_index": vendors_index, "_id": i} for i in vendor_groups]
        )
        found = self._mget(None, docs, "read state")
        n_obs, n_listings = len(by_id), len(listing_groups)
        applied = {d["_id"] for d in found[:n_obs] if d.get("found")}
        fresh = [(oid, o) for oid, o in ordered if oid not in applied]
        if not fresh:
            return empty
        if applied:
            fresh_ids = {oid for oid, _ in fresh}
            listing_groups = _keep(listing_groups, lambda p: p[0] in fresh_ids)
            vendor_groups = _keep(vendor_groups, lambda p: p[0] in fresh_ids)
        current_listings = {d["_id"]: d for d in found[n_obs : n_obs + n_listings] if d.get("found")}
        current_vendors = {d["_id"]: d for d in found[n_obs + n_listings :] if d.get("found")}

        events_by_obs: dict[str, list[Event]] = defaultdict(list)
        # Each observation is serialised once: its listing document and its observation document
        # carry the same JSON (dumping is the writer's largest Python cost).
        dumps = {oid: o.model_dump(mode="json", by_alias=True) for oid, o in fresh}
        key_actions, key_candidates = self._plan_first_seen(fresh, baseline)
        listing_actions, listing_plans = self._plan_listings(listing_groups, current_listings, dumps)
        vendor_actions = self._plan_vendors(vendor_groups, current_vendors)
        identifier_actions = self._identifier_actions(
            [i for _oid, o in fresh for i in identity.from_observation(o)]
        )
        results = self._bulk(
            key_actions
            + listing_actions
            + vendor_actions
            + identifier_actions
            + self._crawl_run_actions(fresh),
            "write state",
        )
        self._first_seen_outcome(key_candidates, results, baseline, recovering, events_by_obs)
        created, updated, conflicts = _listing_outcome(listing_plans, results, events_by_obs)
        if conflicts:
            c, u = self._apply_listings({i: listing_groups[i] for i in conflicts}, events_by_obs)
            created, updated = created + c, updated + u
        vendor_conflicts = {i: g for i, g in vendor_groups.items() if results.get(i, {}).get("status") == 409}
        if vendor_conflicts:
            self._apply_vendors(vendor_conflicts)

        self._bulk(
            [
                {
                    "_op_type": "create",
                    "_index": schema.observation_index(self.prefix, o.observed_at),
                    "_id": oid,
                    "_source": _observation_doc(o, dumps.get(oid)),
                }
                for oid, o in fresh
            ],
            "write observations",
        )
        # Remember keys only once the batch is complete: a key created by a failed attempt must
        # be sent again on replay, to find out whether its event is still owed.
        if len(self._known_keys) > _KNOWN_KEYS_MAX:
            self._known_keys.clear()
        self._known_keys.update(d for d in key_candidates if results.get(d, {}).get("status") in (201, 409))
        self._known_keys.update(a["_id"] for a in identifier_actions)
        if self._refresh:
            with self._translated("refresh"):
                self._client.indices.refresh(index=f"{self.prefix}-*")
        # Events in input order, like the SQLite store.
        events = [e for oid in by_id if oid in events_by_obs for e in events_by_obs[oid]]
        return WriteResult(written=len(fresh), created=created, updated=updated, events=tuple(events))

    def _identifier_actions(self, identifiers: Sequence[identity.VendorIdentifier]) -> list[dict[str, Any]]:
        """Create-only: the first sighting stays; a known one is not sent again (the cache of
        first-seen keys also remembers identifiers)."""
        index = self.alias(schema.IDENTIFIERS)
        actions: dict[str, dict[str, Any]] = {}
        for i in identifiers:
            if i.id in self._known_keys or i.id in actions:
                continue
            actions[i.id] = {
                "_op_type": "create",
                "_index": index,
                "_id": i.id,
                "_source": {
                    "market": i.market,
                    "handle": i.handle,
                    "handle_norm": derive.norm_key(i.handle),
                    "kind": i.kind,
                    "value": i.value,
                    "first_seen": derive.iso(i.first_seen),
                    "source": i.source,
                },
            }
        return list(actions.values())

    def write_vendor_pages(self, pages: Sequence[EnrichedVendorPage]) -> int:
        with self._lock:
            self._ensure_ready()
            actions = self._identifier_actions([i for p in pages for i in identity.from_vendor_page(p)])
            results = self._bulk(actions, "write vendor identifiers")
            self._known_keys.update(results)
            if self._refresh and actions:
                with self._translated("refresh"):
                    self._client.indices.refresh(index=self.alias(schema.IDENTIFIERS))
        return len(pages)

    def _identifiers(self, query: dict[str, Any]) -> list[identity.VendorIdentifier]:
        return [
            identity.VendorIdentifier(
                market=s["market"],
                handle=s["handle"],
                kind=s["kind"],
                value=s["value"],
                first_seen=derive.parse_iso(s["first_seen"]),
                source=s["source"],
            )
            for s in (
                h["_source"]
                for h in self._scan(
                    self.alias(schema.IDENTIFIERS),
                    query,
                    [{"market": "asc"}, {"handle_norm": "asc"}, {"kind": "asc"}, {"value": "asc"}],
                    seq_no=False,
                )
            )
        ]

    def identities(self) -> list[identity.Identity]:
        return identity.link(self._identifiers({"match_all": {}}))

    def _plan_first_seen(
        self, fresh: list[tuple[str, Observation]], baseline: bool
    ) -> tuple[list[dict[str, Any]], dict[str, tuple[str, Event]]]:
        # ``fresh`` is time-ordered: the earliest observation creates a key shared within the batch.
        index = self.alias(schema.FIRST_SEEN)
        candidates: dict[str, tuple[str, Event]] = {}
        actions: list[dict[str, Any]] = []
        for oid, obs in fresh:
            listing = obs.listing
            handle = derive.vendor_handle(listing, obs.enrichment)
            handle_norm = derive.norm_key(handle)
            keys: list[tuple[EventKind, str, str | None]] = [(EventKind.NEW_LISTING, obs.key, None)]
            if handle is not None and handle_norm is not None:
                keys.append((EventKind.NEW_VENDOR, handle_norm, None))
                keys.append((EventKind.NEW_VENDOR_MARKET, f"{handle_norm}\x1f{listing.market}", None))
                keys.extend(
                    (EventKind.NEW_VENDOR_SUBSTANCE, f"{handle_norm}\x1f{s}", s)
                    for s in obs.enrichment.substances
                )
            for kind, key, substance in keys:
                doc_id = derive.first_seen_id(kind.value, key)
                # Known keys never stop existing (create-only), so skipping them is exact.
                if doc_id in candidates or doc_id in self._known_keys:
                    continue
                candidates[doc_id] = (
                    oid,
                    Event(
                        kind=kind,
                        market=listing.market,
                        at=obs.observed_at,
                        listing_id=listing.listing_id,
                        vendor=handle,
                        substance=substance,
                    ),
                )
                actions.append(
                    {
                        "_op_type": "create",
                        "_index": index,
                        "_id": doc_id,
                        "_source": {
                            "kind": kind.value,
                            "key": doc_id,
                            "market": listing.market,
                            "first_seen": derive.iso(obs.observed_at),
                            "crawl_id": obs.crawl_id,
                            "observation_id": oid,
                            "baseline": baseline,
                        },
                    }
                )
        return actions, candidates

    def _first_seen_outcome(
        self,
        candidates: dict[str, tuple[str, Event]],
        results: dict[str, dict[str, Any]],
        baseline: bool,
        recovering: bool,
        events_by_obs: dict[str, list[Event]],
    ) -> None:
        owners: dict[str, str] = {}
        if recovering:
            # A replayed batch may have created keys in an attempt that failed before reporting
            # them: the key names the observation that created it.
            conflicts = [d for d in candidates if results.get(d, {}).get("status") == 409]
            for doc in self._mget(
                self.alias(schema.FIRST_SEEN),
                [{"_id": d, "_source": ["observation_id"]} for d in conflicts],
                "read first-seen keys",
            ):
                if doc.get("found"):
                    owners[doc["_id"]] = doc["_source"].get("observation_id")
        for doc_id, (oid, event) in candidates.items():
            status = results.get(doc_id, {}).get("status")
            new = status == 201 or (status == 409 and owners.get(doc_id) == oid)
            if new and not baseline:
                events_by_obs[oid].append(event)

    def _plan_listings(
        self,
        groups: dict[str, list[tuple[str, Observation]]],
        current: dict[str, dict[str, Any]],
        dumps: dict[str, dict[str, Any]] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, tuple[int, int, dict[str, list[Event]]]]]:
        index = self.alias(schema.LISTINGS)
        actions: list[dict[str, Any]] = []
        plans: dict[str, tuple[int, int, dict[str, list[Event]]]] = {}
        for doc_id, items in groups.items():
            existing = current.get(doc_id)
            doc, partial, c, u, evs = _fold_listing(
                existing["_source"] if existing else None, items, dumps or {}
            )
            plans[doc_id] = (c, u, evs)
            if existing is None:
                actions.append({"_op_type": "create", "_index": index, "_id": doc_id, "_source": doc})
            elif partial:
                actions.append(
                    {
                        "_op_type": "index",
                        "_index": index,
                        "_id": doc_id,
                        "if_seq_no": existing["_seq_no"],
                        "if_primary_term": existing["_primary_term"],
                        "_source": doc,
                    }
                )
        return actions, plans

    def _apply_listings(
        self, pending: dict[str, list[tuple[str, Observation]]], events_by_obs: dict[str, list[Event]]
    ) -> tuple[int, int]:
        index = self.alias(schema.LISTINGS)
        created = updated = 0
        for _attempt in range(self._max_conflict_retries):
            self.stats["conflict_retries"] += len(pending)
            current = {
                d["_id"]: d
                for d in self._mget(index, [{"_id": i} for i in pending], "read listings")
                if d.get("found")
            }
            actions, plans = self._plan_listings(pending, current)
            results = self._bulk(actions, "write listings")
            c, u, conflicts = _listing_outcome(plans, results, events_by_obs)
            created, updated = created + c, updated + u
            pending = {i: pending[i] for i in conflicts}
            if not pending:
                return created, updated
        raise StoreError(f"elasticsearch: {len(pending)} listings kept changing under concurrent writers")

    def _plan_vendors(
        self, groups: dict[str, list[tuple[str, Observation]]], current: dict[str, dict[str, Any]]
    ) -> list[dict[str, Any]]:
        index = self.alias(schema.VENDORS)
        actions: list[dict[str, Any]] = []
        for doc_id, items in groups.items():
            existing = current.get(doc_id)
            src = dict(existing["_source"]) if existing else None
            for _oid, obs in items:
                at = derive.iso(obs.observed_at)
                handle = derive.vendor_handle(obs.listing, obs.enrichment)
                if src is None:
                    src = {
                        "market": obs.listing.market,
                        "handle": handle,
                        "handle_norm": derive.norm_key(handle),
                        "first_seen": at,
                        "last_seen": at,
                    }
                else:
                    src["first_seen"] = min(src["first_seen"], at)
                    if at >= src["last_seen"]:
                        src["last_seen"] = at
                        src["handle"] = handle
            if src is None:
                continue
            if existing is None:
                actions.append({"_op_type": "create", "_index": index, "_id": doc_id, "_source": src})
                continue
            partial = {k: v for k, v in src.items() if existing["_source"].get(k) != v}
            if partial:
                actions.append(
                    {
                        "_op_type": "index",
                        "_index": index,
                        "_id": doc_id,
                        "if_seq_no": existing["_seq_no"],
                        "if_primary_term": existing["_primary_term"],
                        "_source": src,
                    }
                )
        return actions

    def _apply_vendors(self, pending: dict[str, list[tuple[str, Observation]]]) -> None:
        index = self.alias(schema.VENDORS)
        for _attempt in range(self._max_conflict_retries):
            if not pending:
                return
            self.stats["conflict_retries"] += len(pending)
            current = {
                d["_id"]: d
                for d in self._mget(index, [{"_id": i} for i in pending], "read vendors")
                if d.get("found")
            }
            results = self._bulk(self._plan_vendors(pending, current), "write vendors")
            pending = {i: pending[i] for i, r in results.items() if r.get("status") == 409}
        if pending:
            raise StoreError("elasticsearch: vendors kept changing under concurrent writers")

    def _crawl_run_actions(self, fresh: list[tuple[str, Observation]]) -> list[dict[str, Any]]:
        spans: dict[str, tuple[datetime, datetime]] = {}
        for _oid, obs in fresh:
            lo, hi = spans.get(obs.crawl_id, (obs.observed_at, obs.observed_at))
            spans[obs.crawl_id] = (min(lo, obs.observed_at), max(hi, obs.observed_at))
        return [
            {
                "_op_type": "update",
                "_index": self.alias(schema.CRAWL_RUNS),
                "_id": derive.first_seen_id("crawl", crawl_id),
                # last_observed is the latest batch's (no scripts for max); first_observed is
                # upsert-only, so the first batch's value is kept.
                "doc": {"last_observed": derive.iso(hi)},
                "upsert": {
                    "crawl_id": crawl_id,
                    "first_observed": derive.iso(lo),
                    "last_observed": derive.iso(hi),
                },
                "retry_on_conflict": 5,
            }
            for crawl_id, (lo, hi) in spans.items()
        ]

    def mark_removed(self, market: str, seen_before: datetime) -> WriteResult:
        self._ensure_ready()
        index = self.alias(schema.LISTINGS)
        query = {
            "bool": {
                "filter": [
                    {"term": {"market": market}},
                    {"term": {"removed": False}},
                    {"range": {"last_seen": {"lt": derive.iso(seen_before)}}},
                ]
            }
        }
        with self._translated("refresh"):
            self._client.indices.refresh(index=index)
        hits = list(self._scan(index, query, [{"key": "asc"}], seq_no=True))
        results = self._bulk(
            [
                {
                    "_op_type": "update",
                    "_index": index,
                    "_id": h["_id"],
                    "if_seq_no": h["_seq_no"],
                    "if_primary_term": h["_primary_term"],
                    "doc": {"removed": True},
                }
                for h in hits
            ],
            "mark removed",
        )
        # A 409 means the listing was just written again (seen): it is not removed.
        done = [h for h in hits if results.get(h["_id"], {}).get("status") == 200]
        events = tuple(
            Event(
                kind=EventKind.REMOVED,
                market=market,
                at=seen_before,
                listing_id=h["_source"]["listing_id"],
                vendor=h["_source"].get("vendor"),
            )
            for h in sorted(
                done, key=lambda h: (h["_source"]["listing_id"], h["_source"].get("vendor") or "")
            )
        )
        if self._refresh:
            with self._translated("refresh"):
                self._client.indices.refresh(index=index)
        return WriteResult(written=0, created=0, updated=len(events), events=events)

    # --- reading -----------------------------------------------------------------------------

    def _observation_counts(self, keys: Sequence[str]) -> dict[str, int]:
        if not keys:
            return {}
        with self._translated("count observations"):
            resp = self._client.search(
                index=self.alias(schema.OBSERVATIONS),
                ignore_unavailable=True,
                allow_no_indices=True,
                size=0,
                query={"terms": {"listing_key": list(keys)}},
                aggs={"k": {"terms": {"field": "listing_key", "size": len(keys)}}},
            )
        aggs = resp.get("aggregations") or {}
        return {b["key"]: b["doc_count"] for b in aggs.get("k", {}).get("buckets", [])}

    def _stored(self, sources: Sequence[dict[str, Any]]) -> list[StoredListing]:
        counts = self._observation_counts([s["key"] for s in sources])
        return [_stored(s, counts.get(s["key"], 0)) for s in sources]

    def get(self, market: str, listing_id: str) -> StoredListing | None:
        key = f"{market}:{listing_id}"
        with self._translated("get listing"):
            try:
                resp = self._client.get(
                    index=self.alias(schema.LISTINGS), id=derive.first_seen_id("listing", key)
                )
            except NotFoundError:
                return None
        return self._stored([resp["_source"]])[0]

    def count_listings(self, market: str | None = None) -> int:
        query = {"match_all": {}} if market is None else {"term": {"market": market}}
        with self._translated("count listings"):
            return int(self._client.count(index=self.alias(schema.LISTINGS), query=query)["count"])

    def count_observations(self, market: str | None = None) -> int:
        query = {"match_all": {}} if market is None else {"term": {"market": market}}
        with self._translated("count observations"):
            return int(
                self._client.count(
                    index=self.alias(schema.OBSERVATIONS),
                    query=query,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )["count"]
            )

    def _listing_counts(self, query: dict[str, Any]) -> dict[tuple[str, str], int]:
        counts: dict[tuple[str, str], int] = {}
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {
                "size": 1000,
                "sources": [
                    {"m": {"terms": {"field": "market"}}},
                    {"v": {"terms": {"field": "vendor_norm"}}},
                ],
            }
            if after is not None:
                composite["after"] = after
            with self._translated("count vendor listings"):
                resp = self._client.search(
                    index=self.alias(schema.LISTINGS),
                    size=0,
                    query=query,
                    aggs={"c": {"composite": composite}},
                )
            agg = resp["aggregations"]["c"]
            for b in agg["buckets"]:
                counts[(b["key"]["m"], b["key"]["v"])] = b["doc_count"]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return counts

    def vendors(self, market: str | None = None) -> list[Vendor]:
        query = {"match_all": {}} if market is None else {"term": {"market": market}}
        sources = [
            h["_source"]
            for h in self._scan(
                self.alias(schema.VENDORS), query, [{"market": "asc"}, {"handle_norm": "asc"}], seq_no=False
            )
        ]
        counts = self._listing_counts(query)
        idents = identity.by_account(self._identifiers(query))
        return [
            Vendor(
                market=s["market"],
                handle=s["handle"],
                first_seen=derive.parse_iso(s["first_seen"]),
                last_seen=derive.parse_iso(s["last_seen"]),
                listing_count=counts.get((s["market"], s["handle_norm"]), 0),
                **idents.get((s["market"], s["handle_norm"]), {}),
            )
            for s in sources
        ]

    def search(self, query: SearchQuery) -> SearchResult:
        # Two searches in one round trip, run side by side by the server: the page (scored, not
        # counted) and the exact total with the facets (counted, not scored). One search doing
        # both scores every match; see build_search_body.
        searches: list[dict[str, Any]] = [{}, build_count_body(query)]
        if query.limit:
            searches += [{}, build_search_body(query)]
        with self._translated("search"):
            resp = self._client.msearch(index=self.alias(schema.LISTINGS), searches=searches)
        counted, *paged = (_answer(item, "search") for item in resp["responses"])
        hits = self._stored([h["_source"] for h in paged[0]["hits"]["hits"]]) if paged else []
        aggs = counted.get("aggregations") or {}
        total = int(counted["hits"]["total"]["value"])
        facets = {name: facet_buckets(query, aggs[name], total) for name in query.facets}
        return SearchResult(total=total, hits=tuple(hits), facets=facets)

    def _scan(
        self, index: str, query: dict[str, Any], sort: list[Any], *, seq_no: bool, batch_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every hit of ``query`` through a point in time + ``search_after`` (no 10k window)."""
        with self._translated("open point in time"):
            pit = str(
                self._client.open_point_in_time(
                    index=index, keep_alive=_PIT_KEEP_ALIVE, ignore_unavailable=True
                )["id"]
            )
        try:
            after: list[Any] | None = None
            while True:
                kwargs: dict[str, Any] = {}
                if after is not None:
                    kwargs["search_after"] = after
                with self._translated("search"):
                    resp = self._client.search(
                        pit={"id": pit, "keep_alive": _PIT_KEEP_ALIVE},
                        query=query,
                        sort=sort,
                        size=batch_size,
                        track_total_hits=False,
                        seq_no_primary_term=seq_no,
                        **kwargs,
                    )
                pit = str(resp.get("pit_id", pit))
                hits = resp["hits"]["hits"]
                yield from hits
                if len(hits) < batch_size:
                    return
                after = hits[-1]["sort"]
        finally:
            try:
                self._client.close_point_in_time(id=pit)
            except (ApiError, TransportError) as exc:  # expires by itself; never mask the real outcome
                log.debug("closing point in time failed: %s", type(exc).__name__)

    def export(self, query: SearchQuery, *, batch_size: int = 1000) -> Iterator[StoredListing]:
        body = build_export_body(query, batch_size, None)
        index = self.alias(schema.LISTINGS)
        page: list[dict[str, Any]] = []
        for hit in self._scan(index, body["query"], body["sort"], seq_no=False, batch_size=batch_size):
            page.append(hit["_source"])
            if len(page) >= batch_size:
                yield from self._stored(page)
                page = []
        if page:
            yield from self._stored(page)

    def vendor_profile(self, handle: str) -> VendorProfile | None:
        handle_norm = derive.norm_key(handle)
        vendors = [
            h["_source"]
            for h in self._scan(
                self.alias(schema.VENDORS),
                {"term": {"handle_norm": handle_norm}},
                [{"first_seen": "asc"}, {"market": "asc"}],
                seq_no=False,
            )
        ]
        if not vendors:
            return None
        listing_sources = [
            h["_source"]
            for h in self._scan(
                self.alias(schema.LISTINGS),
                {"term": {"vendor_norm": handle_norm}},
                [{"key": "asc"}],
                seq_no=False,
            )
        ]
        listings = self._stored(listing_sources)
        counts: Counter[str] = Counter(s["market"] for s in listing_sources)
        history: dict[str, list[PricePoint]] = {}
        for h in self._scan(
            self.alias(schema.OBSERVATIONS),
            {
                "bool": {
                    "filter": [
                        {"term": {"vendor_norm": handle_norm}},
                        {"exists": {"field": "price_per_gram_usd"}},
                    ]
                }
            },
            [{"observed_at": "asc"}],
            seq_no=False,
        ):
            add_price_points(history, Observation.model_validate(h["_source"]["doc"]))
        substances = sorted({s for item in listings for s in item.enrichment.substances})
        return VendorProfile(
            handle=str(vendors[-1]["handle"]),
            markets=tuple(
                VendorMarket(
                    market=v["market"],
                    handle=v["handle"],
                    first_seen=derive.parse_iso(v["first_seen"]),
                    last_seen=derive.parse_iso(v["last_seen"]),
                    listing_count=counts.get(v["market"], 0),
                )
                for v in vendors
            ),
            substances=tuple(substances),
            identifiers=tuple(self._identifiers({"term": {"handle_norm": handle_norm}})),
            linked=identity.identities_of(self.identities(), handle),
            listings=tuple(listings),
            price_history={
                k: tuple(sorted(v, key=lambda p: (p.observed_at, p.market, p.listing_id)))
                for k, v in sorted(history.items())
            },
        )

    # --- migration ---------------------------------------------------------------------------

    def current_index(self, spec: schema.IndexSpec) -> str | None:
        with self._translated("read alias"):
            if not self._client.indices.exists_alias(name=self.alias(spec)):
                return None
            resp = self._client.indices.get_alias(name=self.alias(spec))
        return str(sorted(resp.body)[-1])

    def migrate_listings(
        self, new_version: int | None = None, *, delete_old: bool = False
    ) -> tuple[str, str, int]:
        """Copy the listings view into a new versioned index and switch the alias atomically.

        The integ-test-zip has no reindex module, so documents are re-read (point in time) and
        bulk-written. Writers should be paused: a write between the copy and the switch would land
        in the old index only (the observations, the source of truth, are kept either way).
        Returns (old index, new index, documents copied).
        """
        self.setup()
        alias = self.alias(schema.LISTINGS)
        old = self.current_index(schema.LISTINGS)
        if old is None:
            raise StoreError(f"alias {alias} does not exist; run setup first")
        old_version = int(old.rsplit("-v", 1)[1])
        version = new_version or old_version + 1
        new = schema.LISTINGS.index(self.prefix, version)
        if new == old:
            raise StoreError(f"{alias} already points at {new}")
        with self._translated("create index"):
            if not self._client.indices.exists(index=new):
                self._client.indices.create(index=new)
        copied = 0

        def actions() -> Iterable[dict[str, Any]]:
            nonlocal copied
            for hit in self._scan(old, {"match_all": {}}, [{"key": "asc"}], seq_no=False):
                copied += 1
                yield {"_op_type": "index", "_index": new, "_id": hit["_id"], "_source": hit["_source"]}

        self._bulk(list(actions()), "copy listings")
        with self._translated("switch alias"):
            self._client.indices.refresh(index=new)
            self._client.indices.update_aliases(
                actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
            )
            if delete_old:
                self._client.indices.delete(index=old)
        return old, new, copied


# --- documents ---------------------------------------------------------------------------------


_BULK_META = frozenset(("_index", "_id", "if_seq_no", "if_primary_term", "retry_on_conflict"))
_BULK_RESPONSE_FIELDS = "items.*._id,items.*.status,items.*.error"


def _expand_action(
    action: bytes | str | dict[str, Any],
) -> tuple[dict[str, Any], dict[str, Any] | bytes | None]:
    """``helpers.expand_action`` for the actions this module builds (metadata in ``_BULK_META``,
    a ``_source`` or an update body): the generic one copies each action and tries twenty keys,
    a cost the size of the serialisation itself."""
    if not isinstance(action, dict):
        raise TypeError(f"bulk actions are dicts here, not {type(action).__name__}")
    op = action.get("_op_type", "index")
    meta = {k: v for k, v in action.items() if k in _BULK_META}
    if "_source" in action:
        return {op: meta}, action["_source"]
    return {op: meta}, {k: v for k, v in action.items() if k not in _BULK_META and k != "_op_type"}


def _money_doc(money: Money | None) -> dict[str, Any] | None:
    return None if money is None else money.model_dump(mode="json")


def _money(doc: dict[str, Any] | None) -> Money | None:
    return None if doc is None else Money.model_validate(doc)


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def listing_doc(
    obs: Observation,
    *,
    first_seen: str,
    last_seen: str,
    prev_price: dict[str, Any] | None,
    dumped: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``dumped``: ``obs.model_dump(mode="json", by_alias=True)`` when the caller has it already."""
    listing, enrichment = obs.listing, obs.enrichment
    if dumped is None:
        dumped = obs.model_dump(mode="json", by_alias=True)
    handle = derive.vendor_handle(listing, enrichment)
    terms = derive.supply_terms(enrichment)
    substance_keys = {d.id for d in enrichment.drugs} | {
        n for n in (derive.norm_key(d.name) for d in enrichment.drugs) if n
    }
    return {
        "key": obs.key,
        "market": listing.market,
        "market_norm": derive.norm_key(listing.market),
        "listing_id": listing.listing_id,
        "vendor": handle,
        "vendor_norm": derive.norm_key(handle),
        "ships_from": listing.ships_from,
        "ships_from_norm": derive.norm_key(listing.ships_from),
        "ships_to_norm": sorted({n for n in (derive.norm_key(c) for c in listing.ships_to) if n}),
        "substances": list(enrichment.substances),
        "substance_keys": sorted(substance_keys),
        "classes": list(enrichment.classes),
        "price_per_gram_usd": _float(derive.price_per_gram_usd(enrichment)),
        "category": enrichment.category,
        "origin": enrichment.origin,
        "origin_norm": derive.norm_key(enrichment.origin),
        "destination_norm": terms["destination"],
        "precursors": terms["precursor"],
        "wallet_norm": terms["wallet"],
        "pgp_norm": terms["pgp"],
        "has_wallet": enrichment.has_wallet,
        "international": enrichment.international,
        "first_seen": first_seen,
        "last_seen": last_seen,
        "removed": False,
        "last_observation_id": derive.observation_id(obs),
        "price": _money_doc(listing.price),
        "prev_price": prev_price,
        "doc": {"listing": dumped["listing"], "enrichment": dumped["enrichment"]},
        "search": {
            "title": derive.search_text(listing.title),
            "description": derive.search_text(listing.description),
            "vendor": derive.search_text(handle),
            "substances": derive.substances_text(enrichment),
        },
    }


def _price_event(obs: Observation, old: Money | None, new: Money | None) -> Event | None:
    if old is None or new is None or derive.price_equal(old, new):
        return None
    return Event(
        kind=EventKind.PRICE_CHANGE,
        market=obs.listing.market,
        at=obs.observed_at,
        listing_id=obs.listing.listing_id,
        vendor=derive.vendor_handle(obs.listing, obs.enrichment),
        old_price=old,
        new_price=new,
    )


def _fold_listing(
    source: dict[str, Any] | None, items: list[tuple[str, Observation]], dumps: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any], int, int, dict[str, list[Event]]]:
    """Apply time-ordered observations to a listing document.

    Returns (full document, partial update for an existing document, created, updated, events).
    """
    state = dict(source) if source is not None else None
    created = updated = 0
    events: dict[str, list[Event]] = defaultdict(list)
    for oid, obs in items:
        at = derive.iso(obs.observed_at)
        if state is None:
            state = listing_doc(obs, first_seen=at, last_seen=at, prev_price=None, dumped=dumps.get(oid))
            created += 1
            continue
        updated += 1
        if state.get("last_observation_id") == oid:
            # Applied by an attempt that crashed before recording the observation: report its
            # price change now (the previous price was kept for exactly this).
            event = _price_event(obs, _money(state.get("prev_price")), _money(state.get("price")))
        elif at >= state["last_seen"]:
            old_price = state.get("price")
            event = _price_event(obs, _money(old_price), obs.listing.price)
            state = listing_doc(
                obs,
                first_seen=min(state["first_seen"], at),
                last_seen=at,
                prev_price=old_price,
                dumped=dumps.get(oid),
            )
        else:
            # A late observation: it can only move first_seen earlier.
            state["first_seen"] = min(state["first_seen"], at)
            event = None
        if event is not None:
            events[oid].append(event)
    assert state is not None
    partial = {} if source is None else {k: v for k, v in state.items() if source.get(k) != v}
    return state, partial, created, updated, events


def _group_listings(ordered: list[tuple[str, Observation]]) -> dict[str, list[tuple[str, Observation]]]:
    groups: dict[str, list[tuple[str, Observation]]] = defaultdict(list)
    for oid, obs in ordered:
        groups[derive.first_seen_id("listing", obs.key)].append((oid, obs))
    return dict(groups)


def _group_vendors(ordered: list[tuple[str, Observation]]) -> dict[str, list[tuple[str, Observation]]]:
    groups: dict[str, list[tuple[str, Observation]]] = defaultdict(list)
    for oid, obs in ordered:
        handle_norm = derive.norm_key(derive.vendor_handle(obs.listing, obs.enrichment))
        if handle_norm is not None:
            groups[derive.first_seen_id("vendor", obs.listing.market, handle_norm)].append((oid, obs))
    return dict(groups)


def _keep(
    groups: dict[str, list[tuple[str, Observation]]], keep: Callable[[tuple[str, Observation]], bool]
) -> dict[str, list[tuple[str, Observation]]]:
    kept = {k: [p for p in items if keep(p)] for k, items in groups.items()}
    return {k: v for k, v in kept.items() if v}


def _listing_outcome(
    plans: dict[str, tuple[int, int, dict[str, list[Event]]]],
    results: dict[str, dict[str, Any]],
    events_by_obs: dict[str, list[Event]],
) -> tuple[int, int, set[str]]:
    created = updated = 0
    conflicts: set[str] = set()
    for doc_id, (c, u, evs) in plans.items():
        if results.get(doc_id, {}).get("status") == 409:
            conflicts.add(doc_id)
            continue
        created += c
        updated += u
        for oid, e in evs.items():
            events_by_obs[oid].extend(e)
    return created, updated, conflicts


def _observation_doc(obs: Observation, dumped: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "listing_key": obs.key,
        "market": obs.listing.market,
        "crawl_id": obs.crawl_id,
        "observed_at": derive.iso(obs.observed_at),
        "vendor_norm": derive.norm_key(derive.vendor_handle(obs.listing, obs.enrichment)),
        "substances": list(obs.enrichment.substances),
        "price_per_gram_usd": _float(derive.price_per_gram_usd(obs.enrichment)),
        "doc": obs.model_dump(mode="json", by_alias=True) if dumped is None else dumped,
    }


def _stored(source: dict[str, Any], observations: int) -> StoredListing:
    return StoredListing(
        listing=Listing.model_validate(source["doc"]["listing"]),
        enrichment=Enrichment.model_validate(source["doc"]["enrichment"]),
        first_seen=derive.parse_iso(source["first_seen"]),
        last_seen=derive.parse_iso(source["last_seen"]),
        # Observations are written last; a listing read mid-write may not count its newest one yet.
        observations=max(observations, 1),
        removed=bool(source.get("removed", False)),
    )
