"""Compare what the store holds with what a simulated market really offered (its ground truth), and
say which vendor accounts on different markets are one identity."""

from __future__ import annotations

import json
from collections.abc import Iterable
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


def load_lab_truths(lab_dir: Path) -> dict[str, dict[str, Any]]:
    """market name -> ground truth, for every market of the lab in ``lab_dir``."""
    markets = lab_dir / "markets"
    return {
        path.parent.name: load_truth(path.parent) for path in sorted(markets.glob(f"*/{GROUND_TRUTH_FILE}"))
    }


def linked_identities(truths: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identities holding accounts on two or more markets, with what their profiles share.

    Each: ``{"identity", "accounts": [{"market", "handle"}], "pgp_fingerprints": [...],
    "wallets": [[chain, address], ...], "same_handle": bool}``; ``pgp_fingerprints`` and ``wallets``
    list only what at least two of the accounts show (the evidence a linker can find). An identity
    whose accounts share nothing but a handle has both lists empty: a handle alone proves nothing.
    """
    accounts: dict[str, list[dict[str, Any]]] = {}
    for truth in truths:
        for vendor in truth["vendors"]:
            accounts.setdefault(vendor["identity"], []).append(vendor)
    linked = []
    for identity, held in sorted(accounts.items()):
        if len({a["market"] for a in held}) < 2:
            continue
        fingerprints = [a["pgp_fingerprint"] for a in held if a["pgp_fingerprint"]]
        wallets = [tuple(w) for a in held for w in a["wallets"]]
        linked.append(
            {
                "identity": identity,
                "accounts": [{"market": a["market"], "handle": a["handle"]} for a in held],
                "pgp_fingerprints": sorted({f for f in fingerprints if fingerprints.count(f) > 1}),
                "wallets": [list(w) for w in sorted({w for w in wallets if wallets.count(w) > 1})],
                "same_handle": len({a["handle"] for a in held}) == 1,
            }
        )
    return linked
