"""Page tests: pages the project wrote itself, and (marked ``corpus``) the shared real-page corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from onionwatch.crawler.pages.base import Page

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def html_page(body: str, url: str = "http://market.onion/item/1") -> Page:
    return Page(url=url, body=body.encode(), market="test", content_type="text/html; charset=utf-8")


def corpus_page(relative: str) -> Page:
    path = CORPUS / "pages" / relative
    return Page(
        url=path.as_uri(), body=path.read_bytes(), market="corpus", content_type="text/html; charset=utf-8"
    )


@pytest.fixture
def corpus() -> Path:
    if not (CORPUS / "pages").is_dir():
        pytest.skip(f"shared corpus not found at {CORPUS}")
    return CORPUS
