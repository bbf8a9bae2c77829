"""Every lab market, each with its own engine (layout, URL scheme, display currency), crawled through
real Tor by the real CLI: every listing must be stored as its market shows it."""

from __future__ import annotations

from pathlib import Path

import pytest

from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import LabState
from onionwatch.lab.market import MARKET_ENGINES
from onionwatch.lab.truth import compare, load_truth
from tests.conftest import onionwatch_cli

pytestmark = pytest.mark.lab


def test_lab_serves_every_engine(lab: LabState) -> None:
    assert set(lab.markets) == set(MARKET_ENGINES)
    assert set(MARKET_ENGINES.values()) >= {"nightshade", "bazaar", "kraken"}


def test_every_market_is_crawled_with_its_engine_and_matches_the_truth(lab: LabState, tmp_path: Path) -> None:
    env = {"ONIONWATCH_LAB__DIRECTORY": str(lab.directory), "ONIONWATCH_DATA_DIR": str(tmp_path)}
    result = onionwatch_cli("crawl", env=env)
    assert result.returncode == 0, result.stderr
    currencies: set[str] = set()
    with SqliteStore(tmp_path / "onionwatch.sqlite") as store:
        for name in lab.markets:
            truth = load_truth(lab.directory / "markets" / name)
            report = compare(store, truth)
            assert (name, report.missing, report.mismatched) == (name, [], {})
            assert report.matched == report.expected == len(truth["listings"]) > 0
            assert store.count_listings(name) == report.expected
            # enrichment reads every layout: fentanyl-class listings found, none invented
            assert (name, report.fentanyl_found, report.fentanyl_false_alarms) == (
                name,
                report.fentanyl_true,
                0,
            )
            currencies |= {item["price"]["currency"] for item in truth["listings"]}
    # prices were compared as shown, in each market's own currencies (not converted to USD)
    assert {"USD", "EUR", "BTC"} <= currencies
    for name in lab.markets:
        assert f"{name}: finished" in result.stdout
