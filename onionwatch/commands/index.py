"""CLI commands: ``onionwatch index setup|migrate|status`` (store schema and Elasticsearch aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

from onionwatch.errors import StoreError
from onionwatch.index import schema
from onionwatch.index.factory import open_store
from onionwatch.settings import load_settings

app = typer.Typer(no_args_is_help=True, help="Store schema: create it, migrate it, show it.")


@app.command()
def setup() -> None:
    """Create tables / index templates, versioned indices and aliases (idempotent)."""
    settings = load_settings()
    store = open_store(settings)
    try:
        store.setup()
    finally:
        store.close()
    if settings.store.backend == "sqlite":
        typer.echo(f"sqlite store ready: {settings.sqlite_path}")
    else:
        prefix = settings.store.elasticsearch.index_prefix
        typer.echo(f"elasticsearch ready: aliases {', '.join(s.alias(prefix) for s in schema.ALL)}")


@app.command()
def migrate(
    version: Annotated[
        int | None, typer.Option(help="target listings index version (default: current + 1)")
    ] = None,
    delete_old: Annotated[
        bool, typer.Option(help="delete the previous index after the alias switch")
    ] = False,
) -> None:
    """Copy the listings view into a new versioned index and switch the alias (pause writers first)."""
    settings = load_settings()
    if settings.store.backend == "sqlite":
        typer.echo("sqlite store: schema is created in place by setup; nothing to migrate")
        return
    from onionwatch.index.elasticsearch import ElasticsearchStore

    store = open_store(settings)
    try:
        if not isinstance(store, ElasticsearchStore):
            raise StoreError("migrate needs the elasticsearch backend")
        old, new, copied = store.migrate_listings(version, delete_old=delete_old)
    finally:
        store.close()
    typer.echo(
        f"copied {copied} listings from {old} to {new}; alias {schema.LISTINGS.alias(store.prefix)} -> {new}"
    )


@app.command()
def status() -> None:
    """Counts per store, and for Elasticsearch the index behind each alias and the spool backlog."""
    settings = load_settings()
    store = open_store(settings)
    try:
        typer.echo(f"backend: {settings.store.backend}")
        typer.echo(f"listings: {store.count_listings()}  observations: {store.count_observations()}")
        from onionwatch.index.elasticsearch import ElasticsearchStore

        if isinstance(store, ElasticsearchStore):
            for spec in schema.ALL:
                typer.echo(f"  {spec.alias(store.prefix)} -> {store.current_index(spec) or '(none)'}")
            typer.echo(f"spooled observations waiting for replay: {store.spool.pending()}")
    finally:
        store.close()
