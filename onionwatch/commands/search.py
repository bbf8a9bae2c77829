"""CLI commands: ``onionwatch search`` (listings) and ``onionwatch vendor`` (a vendor profile).

Query syntax: docs/search.md. Output is a table by default, ``--json`` (one JSON document) or
``--csv`` for scripts; ``--all`` streams every match (point in time on Elasticsearch).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from onionwatch.errors import QuerySyntaxError
from onionwatch.index import derive
from onionwatch.index.factory import open_store
from onionwatch.index.query import FACET_NAMES, SearchQuery
from onionwatch.models import StoredListing
from onionwatch.settings import load_settings

app = typer.Typer(no_args_is_help=True)

_CSV_COLUMNS = (
    "market",
    "listing_id",
    "title",
    "vendor",
    "substances",
    "classes",
    "price",
    "currency",
    "price_per_gram_usd",
    "ships_from",
    "category",
    "origin",
    "international",
    "precursors",
    "wallets",
    "pgp_fingerprints",
    "first_seen",
    "last_seen",
    "observations",
    "removed",
    "url",
)


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise QuerySyntaxError(f"--{name}: not an ISO date or datetime: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _row(item: StoredListing) -> dict[str, Any]:
    listing, enrichment = item.listing, item.enrichment
    ppg = derive.price_per_gram_usd(enrichment)
    return {
        "market": listing.market,
        "listing_id": listing.listing_id,
        "title": listing.title,
        "vendor": derive.vendor_handle(listing, enrichment),
        "substances": ",".join(enrichment.substances),
        "classes": ",".join(enrichment.classes),
        "price": None if listing.price is None else str(listing.price.amount),
        "currency": None if listing.price is None else listing.price.currency,
        "price_per_gram_usd": None if ppg is None else str(ppg),
        "ships_from": listing.ships_from,
        "category": enrichment.category,
        "origin": enrichment.origin,
        "international": enrichment.international,
        "precursors": ",".join(enrichment.precursor_ids),
        "wallets": ",".join(w.address for w in enrichment.wallets),
        "pgp_fingerprints": ",".join(enrichment.pgp_fingerprints),
        "first_seen": item.first_seen.isoformat(),
        "last_seen": item.last_seen.isoformat(),
        "observations": item.observations,
        "removed": item.removed,
        "url": listing.url,
    }


def _cut(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _table(rows: Iterable[dict[str, Any]]) -> None:
    columns = (
        ("market", 10),
        ("listing_id", 12),
        ("vendor", 16),
        ("category", 10),
        ("substances", 18),
        ("from", 4),
        ("$/g", 9),
        ("last_seen", 10),
        ("title", 48),
    )
    typer.echo("  ".join(f"{name.upper():<{width}}" for name, width in columns).rstrip())
    for row in rows:
        ppg = row["price_per_gram_usd"]
        cells = {
            **row,
            "$/g": None if ppg is None else f"{Decimal(ppg):.2f}",
            "last_seen": row["last_seen"][:10],
            # what sets a listing apart at a glance: its precursors, and a marker for an address
            "substances": row["substances"] or row["precursors"],
            "from": (row["origin"] or "") + ("*" if row["international"] else ""),
            "title": ("[$] " if row["wallets"] else "") + row["title"],
        }
        if row["removed"]:
            cells["title"] = f"[removed] {cells['title']}"
        typer.echo("  ".join(f"{_cut(cells[name], width):<{width}}" for name, width in columns).rstrip())


@app.command()
def search(
    text: Annotated[
        str, typer.Argument(help='query (docs/search.md): words, "phrases", AND/OR/NOT, field:value')
    ] = "",
    market: Annotated[str | None, typer.Option(help="only this market")] = None,
    vendor: Annotated[str | None, typer.Option(help="only this vendor handle (any case)")] = None,
    substance: Annotated[str | None, typer.Option(help="substance id or name, e.g. fentanyl")] = None,
    substance_class: Annotated[
        str | None, typer.Option("--class", help="substance class, e.g. opioid")
    ] = None,
    ships_from: Annotated[str | None, typer.Option(help="origin country as the market shows it")] = None,
    ships_to: Annotated[str | None, typer.Option(help="destination country")] = None,
    category: Annotated[
        str | None, typer.Option(help="drugs, precursors, weapons, fraud, digital, services, other")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="ships-from code: CN, NL, US, EU, WW ...")] = None,
    destination: Annotated[str | None, typer.Option(help="ships-to code")] = None,
    precursor: Annotated[
        str | None, typer.Option(help="precursor id, e.g. npp, anpp, 4-ap, bmk-glycidate")
    ] = None,
    wallet: Annotated[str | None, typer.Option(help="a wallet address shown in the listing")] = None,
    pgp: Annotated[str | None, typer.Option(help="a PGP key fingerprint shown in the listing")] = None,
    has_wallet: Annotated[
        bool | None, typer.Option("--has-wallet/--no-wallet", help="only listings with / without an address")
    ] = None,
    international: Annotated[
        bool | None,
        typer.Option(
            "--international/--domestic", help="shipped into home_country from abroad / from inside"
        ),
    ] = None,
    min_ppg: Annotated[Decimal | None, typer.Option(help="minimum USD price per gram")] = None,
    max_ppg: Annotated[Decimal | None, typer.Option(help="maximum USD price per gram")] = None,
    first_seen_from: Annotated[str | None, typer.Option(help="ISO date/time (UTC if no offset)")] = None,
    first_seen_to: Annotated[str | None, typer.Option(help="ISO date/time")] = None,
    last_seen_from: Annotated[str | None, typer.Option(help="ISO date/time")] = None,
    last_seen_to: Annotated[str | None, typer.Option(help="ISO date/time")] = None,
    status: Annotated[str, typer.Option(help="active, removed or all")] = "all",
    sort: Annotated[
        str | None, typer.Option(help="relevance, last_seen, first_seen, price_per_gram, -price_per_gram")
    ] = None,
    facet: Annotated[list[str] | None, typer.Option(help=f"facet counts: {', '.join(FACET_NAMES)}")] = None,
    limit: Annotated[int, typer.Option(help="hits per page")] = 20,
    offset: Annotated[int, typer.Option(help="skip this many hits")] = 0,
    all_hits: Annotated[
        bool, typer.Option("--all", help="every match, streamed in listing-key order")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    csv_out: Annotated[bool, typer.Option("--csv", help="CSV output")] = False,
) -> None:
    """Search the latest listings."""
    if json_out and csv_out:
        raise typer.BadParameter("choose one of --json and --csv")
    removed = {"all": None, "active": False, "removed": True}.get(status, "bad")
    if removed == "bad":
        raise typer.BadParameter("--status must be active, removed or all")
    try:
        query = SearchQuery(
            text=text,
            market=market,
            vendor=vendor,
            substance=substance,
            substance_class=substance_class,
            ships_from=ships_from,
            ships_to=ships_to,
            category=category,
            origin=origin,
            destination=destination,
            precursor=precursor,
            wallet=wallet,
            pgp=pgp,
            has_wallet=has_wallet,
            international=international,
            price_per_gram_min=min_ppg,
            price_per_gram_max=max_ppg,
            first_seen_from=_when(first_seen_from, "first-seen-from"),
            first_seen_to=_when(first_seen_to, "first-seen-to"),
            last_seen_from=_when(last_seen_from, "last-seen-from"),
            last_seen_to=_when(last_seen_to, "last-seen-to"),
            removed=removed,
            sort=sort,
            facets=tuple(facet or ()),
            limit=limit,
            offset=offset,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise QuerySyntaxError(f"invalid search: {problems}") from exc

    store = open_store(load_settings())
    try:
        if all_hits:
            _emit((_row(i) for i in store.export(query)), None, None, json_out, csv_out)
        else:
            result = store.search(query)
            facets = {k: [b.model_dump() for b in v] for k, v in result.facets.items()}
            _emit((_row(i) for i in result.hits), result.total, facets, json_out, csv_out)
    finally:
        store.close()


def _emit(
    rows: Iterable[dict[str, Any]],
    total: int | None,
    facets: dict[str, list[dict[str, Any]]] | None,
    json_out: bool,
    csv_out: bool,
) -> None:
    if csv_out:
        writer = csv.DictWriter(sys.stdout, fieldnames=_CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    elif json_out:
        hits = list(rows)
        doc: dict[str, Any] = {"total": len(hits) if total is None else total, "hits": hits}
        if facets:
            doc["facets"] = facets
        typer.echo(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        hits = list(rows)
        _table(hits)
        shown = f"{len(hits)} shown" if total is None else f"{len(hits)} of {total} shown"
        typer.echo(f"-- {shown}")
        for name, buckets in (facets or {}).items():
            typer.echo(f"{name}: " + ", ".join(f"{b['value']} ({b['count']})" for b in buckets))


@app.command()
def identities(json_out: Annotated[bool, typer.Option("--json", help="JSON output")] = False) -> None:
    """Vendor accounts linked by a shared PGP key or wallet address, across markets and handles."""
    store = open_store(load_settings())
    try:
        found = store.identities()
    finally:
        store.close()
    if json_out:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in found], indent=2))
        return
    for i, ident in enumerate(found, 1):
        typer.echo(f"identity {i}: " + ", ".join(f"{a.handle}@{a.market}" for a in ident.accounts))
        for e in ident.evidence:
            holders = ", ".join(f"{a.handle}@{a.market}" for a in e.accounts)
            typer.echo(f"  same {e.kind} {e.value}: {holders}")
    typer.echo(f"-- {len(found)} linked identities")


@app.command()
def vendor(
    handle: Annotated[str, typer.Argument(help="vendor handle (any case)")],
    json_out: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """Vendor profile: markets (first/last seen), substances, listings, price per gram history."""
    store = open_store(load_settings())
    try:
        profile = store.vendor_profile(handle)
    finally:
        store.close()
    if profile is None:
        typer.echo(f"no vendor {handle!r} seen", err=True)
        raise typer.Exit(1)
    if json_out:
        typer.echo(profile.model_dump_json(by_alias=True, indent=2))
        return
    typer.echo(f"vendor {profile.handle}")
    for m in profile.markets:
        typer.echo(
            f"  {m.market:<14} as {m.handle:<18} first {m.first_seen:%Y-%m-%d %H:%M}"
            f"  last {m.last_seen:%Y-%m-%d %H:%M}  {m.listing_count} listings"
        )
    typer.echo(f"substances: {', '.join(profile.substances) or '-'}")
    for ident in profile.identifiers:
        typer.echo(
            f"  {ident.kind:<6} {ident.value}  on {ident.market} as {ident.handle}"
            f"  first {ident.first_seen:%Y-%m-%d}  ({ident.source})"
        )
    for linked in profile.linked:
        accounts = ", ".join(f"{a.handle}@{a.market}" for a in linked.accounts)
        why = "; ".join(f"same {e.kind} {e.value}" for e in linked.evidence)
        typer.echo(f"linked identity: {accounts}  ({why})")
    typer.echo("listings:")
    _table(_row(i) for i in profile.listings)
    for substance, points in profile.price_history.items():
        series = ", ".join(f"{p.observed_at:%Y-%m-%d} ${p.price_per_gram_usd}/g ({p.market})" for p in points)
        typer.echo(f"price per gram, {substance}: {series}")
