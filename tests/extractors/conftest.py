"""Helpers for extraction tests: one pipeline per test session, listings from plain text."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from onionwatch.models import Enrichment, Listing


def make_listing(title: str, description: str | None = None, **kw: object) -> Listing:
    fields: dict[str, object] = {
        "market": "test",
        "listing_id": "1",
        "url": "http://example.onion/l/1",
        "title": title,
        "description": description,
        "crawled_at": datetime(2023, 5, 1, tzinfo=UTC),
        "page_sha256": "0" * 64,
    }
    fields.update(kw)
    return Listing.model_validate(fields)


@pytest.fixture(scope="session")
def extract() -> Callable[..., Enrichment]:
    from onionwatch.extractors import enrich

    def run(title: str, description: str | None = None, **kw: object) -> Enrichment:
        return enrich([make_listing(title, description, **kw)])[0].enrichment

    return run
