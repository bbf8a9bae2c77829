"""The main job, as a newcomer runs it: `onionwatch demo` brings the lab up, crawls, summarises, stops."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from onionwatch.lab.market import MARKET_NAMES
from onionwatch.lab.market.catalogue import generate
from onionwatch.lab.market.supply import with_supply_chain
from tests.conftest import onionwatch_cli

pytestmark = pytest.mark.lab


def test_demo_runs_end_to_end_and_leaves_nothing_running(tmp_path: Path) -> None:
    env = {
        "ONIONWATCH_DATA_DIR": str(tmp_path / "var"),
        "ONIONWATCH_LAB__BASE_PORT": "28400",
        "ONIONWATCH_HOME_COUNTRY": "US",
    }
    result = onionwatch_cli("demo", "--listings", "40", env=env, timeout=400)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "onionwatch demo — summary" in out
    for name in MARKET_NAMES:
        # 40 seeded listings per market, and that market's supply-chain listings on top
        expected = len(with_supply_chain(generate(name, listings=40)).listings)
        assert expected > 40
        assert f"ground truth: {expected}/{expected} listings match" in out
    assert "fentanyl-type listings this crawl:" in out
    supply = re.search(
        r"supply chain: (\d+) precursor listings \((\d+) shipped into US from abroad\), (\d+) weapons", out
    )
    assert supply is not None, out
    precursors, abroad, weapons = map(int, supply.groups())
    assert precursors >= abroad > 0 and weapons > 0
    # among the linked accounts (tests/e2e/test_supply_chain_lab.py checks them all against the
    # truth): the vendor renamed across markets found by its PGP key, and the one found by its wallet
    linked = [line for line in out.splitlines() if line.startswith("  one vendor: ")]
    assert any("CheMaster@nightshade" in line and "shared pgp" in line for line in linked), linked
    assert any("IndoChemLab@nightshade" in line and "shared wallet" in line for line in linked), linked
    assert "lab ready in" in result.stderr  # progress is shown while it runs
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True, check=False)
    assert leftovers.stdout.strip() == ""
