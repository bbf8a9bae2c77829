"""Tor killed mid-crawl: the crawl pauses, nothing goes around Tor, it resumes, nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import stem

from onionwatch.crawler.torctl import TorControl
from onionwatch.errors import TorUnavailableError
from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import Lab
from onionwatch.lab.truth import compare, load_truth
from tests.conftest import REPO
from tests.support.servers import ChainCanary

pytestmark = pytest.mark.lab


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_tor_killed_mid_crawl_loses_nothing_and_sends_nothing_around_tor(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    market_args = {"nightshade": ["--listings", "60", "--latency-ms", "150"]}
    with (
        Lab(lab_dir, base_port=28300, markets=["nightshade"], market_args=market_args) as state,
        ChainCanary(pages=40, delay=0.15) as canary,
    ):
        env = {
            **os.environ,
            "ONIONWATCH_LAB__DIRECTORY": str(lab_dir),
            "ONIONWATCH_CRAWL__CONCURRENCY": "2",
            "ONIONWATCH_CRAWL__ENRICH": "false",
        }
        socks = f"{state.socks_host}:{state.socks_port}"
        market = subprocess.Popen(
            [sys.executable, "-m", "onionwatch.cli", "crawl", "nightshade", "--json"],
            env={**env, "ONIONWATCH_DATA_DIR": str(tmp_path / "var")},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The canary is crawled through the same Tor (the lab's exits reach 127.0.0.1).
        probe = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "onionwatch.cli",
                "crawl",
                "canary",
                "--url",
                canary.url,
                "--socks",
                socks,
                "--json",
            ],
            env={**env, "ONIONWATCH_DATA_DIR": str(tmp_path / "canary")},
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        restarted: subprocess.Popen[bytes] | None = None
        try:
            _wait(lambda: canary.hits >= 5, 120, "traffic through Tor")
            os.kill(state.pids["client"], signal.SIGKILL)
            time.sleep(1.0)  # requests already past the exit may still land
            hits_after_kill = canary.hits
            time.sleep(6.0)
            hits_during_outage = canary.hits - hits_after_kill
            torrc = lab_dir / "tor" / "client" / "torrc"
            restarted = subprocess.Popen(
                ["tor", "-f", str(torrc)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            _wait(lambda: _control_ready(state.control_port, state.control_cookie), 90, "client tor back")
            market_out, market_err = market.communicate(timeout=300)
            _, probe_err = probe.communicate(timeout=300)
        finally:
            for proc in (market, probe):
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate()
            if restarted is not None:
                restarted.terminate()
                restarted.wait(timeout=30)

    assert hits_during_outage == 0, "a request reached the canary while Tor was down"
    assert market.returncode == 0, market_err[-3000:]
    assert probe.returncode == 0, probe_err[-3000:]
    report = json.loads(market_out)[0]
    assert report["finish_reason"] == "finished"
    assert report["tor_outages"] >= 1
    assert canary.hits >= 41  # home + 40 pages: the probe finished after the outage too
    truth = load_truth(lab_dir / "markets" / "nightshade")
    with SqliteStore(tmp_path / "var" / "onionwatch.sqlite") as store:
        result = compare(store, truth)
    # 60 generated listings plus the supply-chain overlay's (precursors, weapons) on nightshade
    assert result.missing == [] and result.matched == result.expected > 60


def _control_ready(port: int, cookie: Path) -> bool:
    try:
        with TorControl(port, cookie_path=cookie) as tor:
            return tor.health().ready
    except (TorUnavailableError, stem.ControllerError):  # not listening yet, or the cookie is being rewritten
        return False
