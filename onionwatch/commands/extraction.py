"""CLI commands: ``parse`` (page kind + generic listing as JSON), ``extract`` (JSON lines in, enrichment
JSON lines out; contract in docs/extraction.md) and ``eval`` (measured quality on the shared corpus
and the project's labelled fixture). Heavy imports (spaCy, lxml) happen inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True)

REPO_ROOT = Path(__file__).resolve().parents[2]


@app.command()
def parse(
    files: Annotated[list[Path], typer.Argument(help="saved HTML pages", exists=True, dir_okay=False)],
    market: Annotated[str, typer.Option(help="market name to put in the listing")] = "unknown",
    encoding: Annotated[
        str | None, typer.Option(help="charset to decode with (as an HTTP header would say); default: sniff")
    ] = None,
) -> None:
    """Print, per page, its detected kind and (for listings) the generic extractor's listing as JSON."""
    from onionwatch.crawler.pages.base import Page
    from onionwatch.crawler.pages.generic import extract_listing
    from onionwatch.crawler.pages.kind import detect_kind
    from onionwatch.errors import PageError
    from onionwatch.models import PageKind

    content_type = f"text/html; charset={encoding}" if encoding else None
    for path in files:
        page = Page(
            url=path.resolve().as_uri(), body=path.read_bytes(), market=market, content_type=content_type
        )
        kind = detect_kind(page)
        out: dict[str, Any] = {"file": str(path), "kind": kind.value}
        if kind is PageKind.LISTING:
            try:
                out["listing"] = extract_listing(page).model_dump(mode="json")
            except PageError as exc:
                out["error"] = str(exc)
        typer.echo(json.dumps(out, ensure_ascii=False))


@app.command()
def extract(
    file: Annotated[
        Path | None, typer.Argument(help="JSON lines file (default: stdin)", dir_okay=False)
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = 256,
) -> None:
    """Read ``{"id", "title", "description"?, "price_text"?, "vendor"?}`` lines, write enrichment lines."""
    from onionwatch.extractors.jsonl import process_lines

    stream = file.open(encoding="utf-8") if file else sys.stdin
    try:
        for line in process_lines(stream, batch_size=batch_size):
            sys.stdout.write(line + "\n")
    finally:
        if file:
            stream.close()
