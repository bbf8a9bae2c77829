"""Extraction: the spaCy pipeline that turns listing text into drugs, quantities, prices and vendor.

Public API: :func:`enrich` (batch, order-preserving) and :func:`get_pipeline` (built once per
process). spaCy is imported on first use, not when this package is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onionwatch.extractors.api import enrich, listing_text
    from onionwatch.extractors.pipeline import get_pipeline

__all__ = ["enrich", "get_pipeline", "listing_text"]


def __getattr__(name: str) -> Any:
    if name in ("enrich", "listing_text"):
        from onionwatch.extractors import api

        return getattr(api, name)
    if name == "get_pipeline":
        from onionwatch.extractors import pipeline

        return pipeline.get_pipeline
    raise AttributeError(name)
