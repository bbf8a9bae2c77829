"""The analyst query model shared by the CLI, the web UI and alert backtests.

Backends translate a :class:`SearchQuery` into FTS5 SQL or an Elasticsearch request body.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from onionwatch.models import StoredListing


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: free text; empty = match all
    text: str = ""
    market: str | None = None
    vendor: str | None = None
    limit: int = Field(default=20, ge=1, le=10_000)
    offset: int = Field(default=0, ge=0)


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    total: int
    hits: tuple[StoredListing, ...]
