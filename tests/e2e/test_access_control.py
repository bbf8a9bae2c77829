"""Access control through real Tor: a private lab whose markets sit behind a DDoS queue, a login wall
with a captcha, and expiring sessions. Each test proves every listing still arrives (ground truth).

The lab here is this module's own (its markets run with gates), on ports 28600+; it is stopped at
the end of the module.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from onionwatch.commands.session import app as session_app
from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import Lab, LabState
from onionwatch.lab.market.gate import ACCOUNT_FILE, CAPTCHA_ANSWER_FILE
from onionwatch.lab.truth import compare, load_truth
from tests.conftest import REPO

pytestmark = pytest.mark.lab

LISTINGS = "30"
MARKETS: dict[str, list[str]] = {
    # an EndGame-style queue: every new visitor waits 3 s, then its cookie passes
    "queued": ["--gate", "ddos", "--queue-wait", "3"],
    # queue + login wall with a captcha only an operator can answer
    "gated": ["--gate", "ddos,captcha", "--queue-wait", "2"],
    # a login wall whose sessions last 12 pages: it expires again and again mid-crawl
    "expiring": ["--gate", "login", "--session-requests", "12"],
    # the 6th page request meets a ban notice (as a flagged circuit would), once
    "banned": ["--gate", "ban", "--ban-at", "6"],
}


@pytest.fixture(scope="module")
def gated_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabState]:
    directory = tmp_path_factory.mktemp("gated-lab")
    args = {name: ["--listings", LISTINGS, "--seed", "3", *extra] for name, extra in MARKETS.items()}
    with Lab(directory, base_port=28600, markets=tuple(MARKETS), market_args=args) as state:
        yield state


def _crawl(lab: LabState, market: str, data: Path) -> tuple[dict[str, Any], str]:
    state_dir = lab.directory / "markets" / market
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.gated_crawl",
            "--market",
            market,
            "--url",
            lab.markets[market].url,
            "--socks",
            f"{lab.socks_host}:{lab.socks_port}",
            "--store",
            str(data / "store.sqlite"),
            "--sessions",
            str(data / "sessions"),
            "--data-dir",
            str(data),
            # the market's test account, where the lab wrote it (markets without a login have none)
            *(
                ["--account-file", str(state_dir / ACCOUNT_FILE)]
                if (state_dir / ACCOUNT_FILE).exists()
                else []
            ),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result, out.stderr


def _stat(result: dict[str, Any], key: str) -> int:
    return int(result["stats"].get(key, 0))


def _assert_all_listings(lab: LabState, market: str, data: Path) -> None:
    truth = load_truth(lab.directory / "markets" / market)
    with SqliteStore(data / "store.sqlite") as store:
        report = compare(store, truth)
        assert report.missing == []
        assert report.mismatched == {}
        assert report.matched == report.expected == int(LISTINGS)
        assert store.count_listings(market) == report.expected  # nothing but the listings


def test_ddos_queue_is_waited_out_and_every_listing_arrives(gated_lab: LabState, tmp_path: Path) -> None:
    result, log = _crawl(gated_lab, "queued", tmp_path)
    assert result["finish_reason"] == "finished", log[-3000:]
    assert _stat(result, "page/state/ddos") >= 1
    assert "ddos page, waiting 3 s" in log
    assert result["errors"] == 0
    _assert_all_listings(gated_lab, "queued", tmp_path)


def test_captcha_login_through_operator_handoff(
    gated_lab: LabState, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state_dir = gated_lab.directory / "markets" / "gated"
    first, log = _crawl(gated_lab, "gated", tmp_path)
    assert first["finish_reason"] == "operator_needed", log[-3000:]
    assert first["stored"] == 0
    image = tmp_path / "sessions" / "gated.captcha.png"
    assert image.read_bytes().startswith(b"\x89PNG")
    assert f"captcha image saved to {image}" in log

    # The operator: looks at the image (here: reads the lab's answer file) and answers.
    monkeypatch.setenv("ONIONWATCH_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    shown = runner.invoke(session_app, ["gated"])
    assert f"captcha image: {image}" in shown.output
    answer = (state_dir / CAPTCHA_ANSWER_FILE).read_text().strip()
    socks = f"{gated_lab.socks_host}:{gated_lab.socks_port}"
    done = runner.invoke(
        session_app,
        ["gated", "--answer", answer, "--socks", socks, "--account-file", str(state_dir / ACCOUNT_FILE)],
    )
    assert done.exit_code == 0, done.output
    assert not image.exists()

    second, log = _crawl(gated_lab, "gated", tmp_path)
    assert second["finish_reason"] == "finished", log[-3000:]
    assert _stat(second, "session/operator_needed/login") == 0
    assert second["errors"] == 0
    _assert_all_listings(gated_lab, "gated", tmp_path)


def test_session_expiry_is_recovered_without_losing_a_listing(gated_lab: LabState, tmp_path: Path) -> None:
    result, log = _crawl(gated_lab, "expiring", tmp_path)
    assert result["finish_reason"] == "finished", log[-3000:]
    # 30 listings + categories, 12 pages per session: several expiries, each one a new login
    assert _stat(result, "session/login/ok") >= 3
    assert _stat(result, "page/state/login") >= _stat(result, "session/login/ok")
    assert _stat(result, "listing/dropped/not_a_listing") == 0
    assert result["errors"] == 0
    _assert_all_listings(gated_lab, "expiring", tmp_path)


def test_a_ban_asks_tor_for_a_new_identity_and_loses_nothing(gated_lab: LabState, tmp_path: Path) -> None:
    import os
    import threading

    from stem.control import EventType

    from onionwatch.lab.lab import controller

    signals: list[str] = []
    lock = threading.Lock()

    def on_signal(event: Any) -> None:
        with lock:
            signals.append(str(event.signal))

    env = {
        **os.environ,
        "ONIONWATCH_LAB__DIRECTORY": str(gated_lab.directory),
        "ONIONWATCH_DATA_DIR": str(tmp_path),
        "ONIONWATCH_CRAWL__ENRICH": "false",
    }
    with controller(gated_lab) as tor:
        tor.add_event_listener(on_signal, EventType.SIGNAL)
        out = subprocess.run(
            [sys.executable, "-m", "onionwatch.cli", "crawl", "banned", "--json"],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=REPO,
            env=env,
            check=False,
        )
        tor.remove_event_listener(on_signal)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(out.stdout)[0]
    assert report["finish_reason"] == "finished"
    assert report["tor_newnyms"] == 1
    assert "NEWNYM" in signals  # the client tor really received it
    truth = load_truth(gated_lab.directory / "markets" / "banned")
    with SqliteStore(tmp_path / "onionwatch.sqlite") as store:
        result = compare(store, truth)
    assert result.missing == [] and result.matched == result.expected
