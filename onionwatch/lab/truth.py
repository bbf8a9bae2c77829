"""Compare what the store holds with what a simulated market really offered (its ground truth)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from onionwatch.index.store import Store
from onionwatch.lab.market.server import GROUND_TRUTH_FILE


@dataclass
class TruthReport:
    market: str
    expected: int
    matched: int = 0
    missing: list[str] = field(default_factory=list)
    #: listing id -> field names whose stored value differs from the truth
    mismatched: dict[str, list[str]] = field(default_factory=dict)
    fentanyl_true: int = 0
    fentanyl_found: int = 0
    fentanyl_false_alarms: int = 0

    @property
    def ok(self) -> bool:
        return self.matched == self.expected


def load_truth(market_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((market_dir / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))
    return data


def compare(store: Store, truth: dict[str, Any]) -> TruthReport:
    """Title, vendor and headline price of every true listing must be in the store, exactly."""
    market = truth["market"]
    report = TruthReport(market=market, expected=len(truth["listings"]))
    for item in truth["listings"]:
        stored = store.get(market, item["listing_id"])
        if stored is None:
            report.missing.append(item["listing_id"])
            continue
        listing = stored.listing
        wrong = []
        if listing.title != item["title"]:
            wrong.append("title")
        if listing.vendor != item["vendor"]:
            wrong.append("vendor")
        price = item["price"]
        if listing.price is None or (listing.price.amount, listing.price.currency) != (
            Decimal(price["amount"]),
            price["currency"],
        ):
            wrong.append("price")
        if wrong:
            report.mismatched[item["listing_id"]] = wrong
        else:
            report.matched += 1
        flagged = stored.enrichment.fentanyl_class
        report.fentanyl_true += bool(item["fentanyl_class"])
        report.fentanyl_found += bool(item["fentanyl_class"] and flagged)
        report.fentanyl_false_alarms += bool(flagged and not item["fentanyl_class"])
    return report
