"""A market with two onion mirrors through real Tor; the mirror in use goes down mid-crawl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import Lab
from onionwatch.lab.truth import compare, load_truth
from tests.conftest import REPO

pytestmark = pytest.mark.lab


def test_mirror_going_down_mid_crawl_fails_over_and_loses_nothing(tmp_path: Path) -> None:
    # Two onion services in front of two backends that serve the same market ("shop").
    common = ["--listings", "40", "--latency-ms", "150", "--engine", "nightshade"]
    market_args = {"shop": common, "shop-mirror": [*common, "--name", "shop"]}
    lab_dir = tmp_path / "lab"
    with Lab(lab_dir, base_port=28500, markets=["shop", "shop-mirror"], market_args=market_args) as state:
        first, second = state.markets["shop"], state.markets["shop-mirror"]
        markets = tmp_path / "markets"
        markets.mkdir()
        (markets / "shop.yaml").write_text(
            f"name: shop\nengine: nightshade\nmirrors:\n  - {first.url}\n  - {second.url}\n"
            "concurrency: 2\ndownload_delay: 0\n"
        )
        env = {
            **os.environ,
            "ONIONWATCH_LAB__DIRECTORY": str(lab_dir),
            "ONIONWATCH_MARKETS_DIR": str(markets),
            "ONIONWATCH_DATA_DIR": str(tmp_path / "var"),
            "ONIONWATCH_CRAWL__ENRICH": "false",
        }
        crawl = subprocess.Popen(
            [sys.executable, "-m", "onionwatch.cli", "crawl", "shop", "--json"],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(3)  # the scenario: the mirror dies while the crawl is under way
            os.kill(state.pids["market-shop"], signal.SIGKILL)
            out, err = crawl.communicate(timeout=300)
        finally:
            if crawl.poll() is None:
                crawl.kill()
                crawl.communicate()
    assert crawl.returncode == 0, err[-3000:]
    report = json.loads(out)[0]
    assert report["finish_reason"] == "finished"
    health = json.loads((tmp_path / "var" / "mirrors" / "shop.json").read_text())
    assert health[first.url.rstrip("/")]["consecutive_failures"] >= 1
    assert health[second.url.rstrip("/")]["last_ok"] is not None
    truth = load_truth(lab_dir / "markets" / "shop")
    with SqliteStore(tmp_path / "var" / "onionwatch.sqlite") as store:
        result = compare(store, truth)
    assert result.missing == [] and result.mismatched == {}
    assert result.matched == result.expected == 40
