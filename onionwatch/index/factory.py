"""Open the store the settings name. Backends are imported lazily: the SQLite path never loads
the Elasticsearch client, and nothing connects at import time."""

from __future__ import annotations

from onionwatch.index.store import Store
from onionwatch.settings import Settings


def open_store(settings: Settings) -> Store:
    if settings.store.backend == "elasticsearch":
        from onionwatch.index.elasticsearch import ElasticsearchStore

        return ElasticsearchStore(settings.store.elasticsearch, spool_dir=settings.data_dir / "spool")
    from onionwatch.index.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
