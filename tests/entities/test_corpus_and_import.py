"""The extractors on every real corpus page, and the package's import-time behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from onionwatch.extractors.entities import find_pgp_keys, find_precursors, find_wallets, scan_pgp_blocks
from tests.conftest import REPO, SHARED

PAGES = SHARED / "corpus" / "pages"


@pytest.mark.corpus
def test_every_real_page_scans_without_error() -> None:
    if not PAGES.is_dir():
        pytest.skip(f"shared corpus not found at {PAGES}")
    pages = sorted(PAGES.rglob("*.html"))
    assert len(pages) >= 88
    wallets: dict[str, set[str]] = {}
    for page in pages:
        text = page.read_text("utf-8", errors="replace")
        for mention in find_wallets(text):
            wallets.setdefault(mention.address, set()).add(page.parent.name)
        scan_pgp_blocks(text)
        find_precursors(text)
    # Dream Market pages carry one base58check-valid Bitcoin address (in a link of its anti-phishing
    # block); nothing else in 91 pages of markup, scripts and hashes may pass a checksum.
    assert wallets == {"17ysvSES8LyZ2mtAEo9GEYdujA9svP5r5u": {"dream"}}
    assert (
        len(find_pgp_keys((PAGES / "scout" / "non_captcha" / "nexus_pgp_key_1.html").read_text("utf-8"))) == 1
    )


def test_import_loads_no_data_and_no_heavy_library() -> None:
    code = (
        "import sys, onionwatch.extractors.entities as e\n"
        "from onionwatch.extractors.entities.precursors import load_lexicon\n"
        "print(sorted(m for m in ('pycountry', 'pysequoia', 'spacy', 'scrapy') if m in sys.modules),"
        " load_lexicon.cache_info().currsize)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True, timeout=60
    )
    assert result.stdout.strip() == "[] 0"
