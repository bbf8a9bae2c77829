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


def _default_corpus() -> Path:
    return (REPO_ROOT / ".." / "shared" / "corpus").resolve()


def _fixture_path() -> Path:
    return REPO_ROOT / "tests" / "fixtures" / "extraction" / "listings.jsonl"


def _fmt(metrics: dict[str, Any]) -> str:
    if "f1" in metrics:
        return f"P {metrics['precision']:.3f}  R {metrics['recall']:.3f}  F1 {metrics['f1']:.3f}"
    return f"{metrics['rate']:.3f} ({metrics['hits']}/{metrics['total']})"


@app.command(name="eval")
def evaluate(
    corpus: Annotated[
        Path | None, typer.Option(help="shared corpus folder (default: ../shared/corpus)")
    ] = None,
    fixture: Annotated[Path | None, typer.Option(help="labelled listings (JSON lines)")] = None,
    report: Annotated[Path | None, typer.Option(help="write the full JSON report here")] = None,
) -> None:
    """Measure page kinds, generic listing fields and extraction against labelled data."""
    from onionwatch.extractors.evaluation import (
        evaluate_corpus,
        evaluate_cypher,
        evaluate_cypher_labels,
        evaluate_fixture,
    )

    result: dict[str, Any] = {}
    corpus_dir = corpus or _default_corpus()
    if (corpus_dir / "pages").is_dir():
        c = evaluate_corpus(corpus_dir)
        result["corpus"] = c
        typer.echo(f"corpus {corpus_dir}")
        typer.echo(f"  page kind accuracy      {_fmt(c['page_kind']['overall'])}")
        for kind, m in c["page_kind"].items():
            if kind != "overall":
                typer.echo(f"    {kind:<16}      {_fmt(m)}")
        for name, m in c["listing_fields"].items():
            typer.echo(
                f"  listing {name:<15} P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}"
                f"  exact {m['exact']:.3f} (n={m['expected']})"
            )
        cypher = corpus_dir / "listings" / "cypher-2020-09-17.csv"
        if cypher.is_file():
            cy = evaluate_cypher(cypher)
            result["cypher"] = cy
            typer.echo(f"  cypher titles: drug-category recall {_fmt(cy['drug_category_recall'])}")
            typer.echo(
                f"  cypher titles: non-drug titles with a drug {_fmt(cy['non_drug_titles_with_a_drug'])}"
            )
            typer.echo(f"  cypher titles: vendor exact {_fmt(cy['vendor_exact'])}")
            labels = _fixture_path().with_name("cypher_labels.jsonl")
            if labels.is_file():
                cl = evaluate_cypher_labels(cypher, labels)
                result["cypher_labelled"] = cl
                for split in ("dev", "test"):
                    typer.echo(f"cypher hand-labelled titles {split} ({cl[split]['listings']} rows)")
                    for key in (
                        "drug_spans",
                        "fentanyl_class",
                        "quantity_mentions",
                        "quantity_exact",
                        "price_currency",
                        "price_exact",
                    ):
                        typer.echo(f"  {key:<18} {_fmt(cl[split][key])}")
    else:
        typer.echo(f"corpus not found at {corpus_dir}: skipping the corpus evaluation")
    fixture_path = fixture or _fixture_path()
    if fixture_path.is_file():
        fx = evaluate_fixture(fixture_path)
        result["fixture"] = fx
        for split in ("dev", "test"):
            m = fx[split]
            typer.echo(f"fixture {split} ({m['listings']} listings)")
            for key in (
                "drug_spans",
                "fentanyl_class",
                "quantity_mentions",
                "quantity_exact",
                "price_currency",
                "price_exact",
                "tier_pairing",
                "vendor_exact",
            ):
                typer.echo(f"  {key:<18} {_fmt(m[key])}")
    else:
        typer.echo(f"fixture not found at {fixture_path}: skipping")
    if report:
        report.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
        typer.echo(f"report written to {report}")
