"""Open the store the settings name. Backends are imported lazily: the SQLite path never loads
the Elasticsearch client, and nothing connects at import time."""

from __future__ import annotations

from onionwatch.errors import ConfigError
from onionwatch.index.store import Store
from onionwatch.settings import Settings


def open_store(settings: Settings) -> Store:
    if settings.store.backend == "elasticsearch":
        raise ConfigError("the elasticsearch store backend is not available yet")
    from onionwatch.index.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
