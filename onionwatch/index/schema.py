"""Elasticsearch schema as code: index templates, mappings, names and aliases.

Every logical index is a versioned concrete index behind an alias (``<prefix>-listings`` ->
``<prefix>-listings-v1``); a migration creates ``-v2``, copies the documents and switches the alias.
Observations are additionally partitioned by month (``<prefix>-observations-v1-2026.11``), all
behind ``<prefix>-observations``; the month comes from ``observed_at``, so an observation's index and
id are deterministic and a replay can never duplicate it.

Only server-core features are used, because the integ-test-zip we test against has nothing else:
the ``standard`` analyzer (no analysis-common, so no custom normalizers: case folding of keyword
values happens in Python, see ``derive.norm_key``), keyword/date_nanos/double/boolean fields, no
scripts (no lang-painless), no percolator, no ingest pipelines, no data streams or ILM.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

LISTINGS_VERSION = 1
OBSERVATIONS_VERSION = 1
VENDORS_VERSION = 1
FIRST_SEEN_VERSION = 1
CRAWL_RUNS_VERSION = 1
IDENTIFIERS_VERSION = 1

_KW: dict[str, Any] = {"type": "keyword"}
_DATE: dict[str, Any] = {"type": "date_nanos"}
_TEXT: dict[str, Any] = {"type": "text", "analyzer": "standard"}
#: stored in _source for reading back, never indexed
_OPAQUE: dict[str, Any] = {"type": "object", "enabled": False}

LISTINGS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "key": _KW,
        "market": _KW,
        "market_norm": _KW,
        "listing_id": _KW,
        "vendor": _KW,
        "vendor_norm": _KW,
        "ships_from": _KW,
        "ships_from_norm": _KW,
        "ships_to_norm": _KW,
        "substances": _KW,
        "substance_keys": _KW,
        "classes": _KW,
        "price_per_gram_usd": {"type": "double"},
        # supply chain (added to a version-1 index in place by setup: new fields only)
        "category": _KW,
        "origin": _KW,
        "origin_norm": _KW,
        "destination_norm": _KW,
        "precursors": _KW,
        "wallet_norm": _KW,
        "pgp_norm": _KW,
        "has_wallet": {"type": "boolean"},
        "international": {"type": "boolean"},
        "first_seen": _DATE,
        "last_seen": _DATE,
        "removed": {"type": "boolean"},
        "last_observation_id": _KW,
        "price": _OPAQUE,
        "prev_price": _OPAQUE,
        "doc": _OPAQUE,
        "search": {
            "properties": {
                "title": _TEXT,
                "description": _TEXT,
                "vendor": _TEXT,
                "substances": _TEXT,
            }
        },
    },
}

OBSERVATIONS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "listing_key": _KW,
        "market": _KW,
        "crawl_id": _KW,
        "observed_at": _DATE,
        "vendor_norm": _KW,
        "substances": _KW,
        "price_per_gram_usd": {"type": "double"},
        "doc": _OPAQUE,
    },
}

VENDORS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "market": _KW,
        "handle": _KW,
        "handle_norm": _KW,
        "first_seen": _DATE,
        "last_seen": _DATE,
    },
}

FIRST_SEEN_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "kind": _KW,
        "key": _KW,
        "market": _KW,
        "first_seen": _DATE,
        "crawl_id": _KW,
        "observation_id": _KW,
        "baseline": {"type": "boolean"},
    },
}

IDENTIFIERS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "market": _KW,
        "handle": _KW,
        "handle_norm": _KW,
        "kind": _KW,
        "value": _KW,
        "first_seen": _DATE,
        "source": {"type": "keyword", "index": False},
    },
}

CRAWL_RUNS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "crawl_id": _KW,
        "first_observed": _DATE,
        "last_observed": _DATE,
    },
}


@dataclass(frozen=True)
class IndexSpec:
    """One logical index: alias ``<prefix>-<name>`` over ``<prefix>-<name>-v<version>[-<month>]``."""

    name: str
    version: int
    mappings: dict[str, Any]
    monthly: bool = False

    def alias(self, prefix: str) -> str:
        return f"{prefix}-{self.name}"

    def index(self, prefix: str, version: int | None = None) -> str:
        return f"{prefix}-{self.name}-v{version or self.version}"

    def pattern(self, prefix: str) -> str:
        return f"{prefix}-{self.name}-v*"

    def template_name(self, prefix: str) -> str:
        return f"{prefix}-{self.name}"


LISTINGS = IndexSpec("listings", LISTINGS_VERSION, LISTINGS_MAPPINGS)
OBSERVATIONS = IndexSpec("observations", OBSERVATIONS_VERSION, OBSERVATIONS_MAPPINGS, monthly=True)
VENDORS = IndexSpec("vendors", VENDORS_VERSION, VENDORS_MAPPINGS)
FIRST_SEEN = IndexSpec("first-seen", FIRST_SEEN_VERSION, FIRST_SEEN_MAPPINGS)
CRAWL_RUNS = IndexSpec("crawl-runs", CRAWL_RUNS_VERSION, CRAWL_RUNS_MAPPINGS)
IDENTIFIERS = IndexSpec("vendor-identifiers", IDENTIFIERS_VERSION, IDENTIFIERS_MAPPINGS)
ALL = (LISTINGS, OBSERVATIONS, VENDORS, FIRST_SEEN, CRAWL_RUNS, IDENTIFIERS)

INDEX_SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    # 0 on a single node (green), 1 as soon as a second node joins.
    "auto_expand_replicas": "0-1",
    "refresh_interval": "1s",
}


def observation_index(prefix: str, observed_at: datetime) -> str:
    return f"{OBSERVATIONS.index(prefix)}-{observed_at:%Y.%m}"


def index_template(spec: IndexSpec, prefix: str) -> dict[str, Any]:
    """Arguments for ``indices.put_index_template``. Monthly indices get the read alias from the
    template, so a new month is created (and aliased) implicitly by its first write."""
    template: dict[str, Any] = {"settings": INDEX_SETTINGS, "mappings": spec.mappings}
    if spec.monthly:
        template["aliases"] = {spec.alias(prefix): {}}
    return {
        "name": spec.template_name(prefix),
        "index_patterns": [spec.pattern(prefix)],
        "template": template,
        "version": spec.version,
        "priority": 100,
        "_meta": {"owner": "onionwatch", "schema_version": spec.version},
    }
