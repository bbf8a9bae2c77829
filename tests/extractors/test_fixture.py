"""The hand-labelled fixture: the issue's targets on the dev split and on the held-out test split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from onionwatch.extractors.evaluation import evaluate_fixture, load_fixture

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "extraction" / "listings.jsonl"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    return evaluate_fixture(FIXTURE)


def test_fixture_is_large_and_split() -> None:
    rows = load_fixture(FIXTURE)
    assert len(rows) >= 150
    assert {r["split"] for r in rows} == {"dev", "test"}
    fentanyl_type = [
        r
        for r in rows
        if any(
            d[0] in ("fentanyl", "carfentanil", "fentanyl_analog", "nitazene", "xylazine")
            for d in r["expect"]["drugs"]
        )
    ]
    assert len(fentanyl_type) >= 40


@pytest.mark.parametrize("split", ["dev", "test"])
def test_targets(report: dict[str, Any], split: str) -> None:
    m = report[split]
    assert m["drug_spans"]["f1"] >= 0.85
    assert m["fentanyl_class"]["recall"] >= 0.95
    assert m["fentanyl_class"]["precision"] >= 0.85
    assert m["quantity_exact"]["rate"] >= 0.90
    assert m["price_currency"]["f1"] >= 0.95
    assert m["vendor_exact"]["rate"] >= 0.99
