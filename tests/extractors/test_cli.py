"""The ``extract`` line contract and ``eval`` without a corpus, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "onionwatch.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )


def test_extract_lines_keep_ids_order_and_survive_bad_lines() -> None:
    lines = [
        json.dumps({"id": 7, "title": "Pressed M30 x100", "price_text": "$550", "observed_on": "2024-03-01"}),
        "{broken",
        json.dumps(
            {"id": "b", "title": "Cocaine 1g €80 / 5g €350", "description": "no fent", "vendor": "Pablo (12)"}
        ),
        json.dumps({"id": "no-title"}),
        json.dumps(
            {
                "id": "chem",
                "title": "4-AP (CAS 23056-29-3) 500g",
                "description": "BTC 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            }
        ),
    ]
    proc = run("extract", stdin="\n".join(lines) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["id"] for o in out] == [7, None, "b", "no-title", "chem"]
    first, bad, second, missing, chem = out
    assert first["fentanyl_class"] is True
    assert first["drugs"][0] == {
        "id": "fentanyl",
        "name": "fentanyl",
        "class": "fentanyl_class",
        "text": "M30",
        "start": 8,
        "end": 11,
    }
    assert first["quantities"] == [{"value": 100.0, "unit": "unit", "dose_mg": None, "text": "x100"}]
    assert first["prices"][0]["amount"] == 550.0 and first["prices"][0]["quantity_index"] == 0
    assert first["prices"][0]["rate_date"] == "2024-03-01"
    assert "error" in bad and "error" in missing
    assert [p["currency"] for p in second["prices"]] == ["EUR", "EUR"]
    assert second["prices"][1]["usd"] is not None
    assert [p["quantity_index"] for p in second["prices"]] == [0, 1]
    assert second["vendor"] == "Pablo"
    assert second["fentanyl_class"] is False
    assert (first["category"], first["precursors"], first["wallets"]) == ("drugs", [], [])
    assert chem["category"] == "precursors"
    assert {(p["id"], p["cas"]) for p in chem["precursors"]} == {("4-ap", "23056-29-3")}
    assert chem["wallets"] == [{"chain": "bitcoin", "address": "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"}]


def test_eval_without_corpus_skips_cleanly(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    proc = run("eval", "--corpus", str(tmp_path / "absent"), "--report", str(report))
    assert proc.returncode == 0, proc.stderr
    assert "corpus not found" in proc.stdout
    data = json.loads(report.read_text())
    assert data["fixture"]["test"]["drug_spans"]["f1"] >= 0.85
