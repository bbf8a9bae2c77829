"""``onionwatch lab up|status|down`` as a user runs them: separate processes sharing only the lab
directory (settings from the environment), with the lab left running between commands."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from onionwatch.lab.lab import STATE_FILE, LabState
from onionwatch.lab.market import MARKET_NAMES
from onionwatch.lab.network import pid_alive

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "onionwatch"
BASE_PORT = 27800


def run_cli(*args: str, directory: Path, timeout: float = 200) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ONIONWATCH_LAB__DIRECTORY": str(directory),
        "ONIONWATCH_LAB__BASE_PORT": str(BASE_PORT),
    }
    return subprocess.run(
        [str(CLI), "lab", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def leftovers(directory: Path) -> str:
    found = subprocess.run(["pgrep", "-af", f"{directory}/"], capture_output=True, text=True, check=False)
    return found.stdout.strip()


@pytest.mark.lab
def test_up_status_down(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    try:
        up = run_cli("up", directory=directory)
        assert up.returncode == 0, up.stderr
        state = LabState.model_validate_json((directory / STATE_FILE).read_text())
        # `up` returned while the lab keeps running, detached from it.
        assert all(pid_alive(pid) for pid in state.pids.values())
        onion = state.markets[MARKET_NAMES[0]].onion
        assert f"client SOCKS:   127.0.0.1:{state.socks_port}" in up.stdout
        assert f"client control: 127.0.0.1:{state.control_port}" in up.stdout
        assert str(directory / STATE_FILE) in up.stdout
        assert all(market.url in up.stdout for market in state.markets.values())
        assert "consensus: 6/6 relays running" in up.stderr and "lab ready in" in up.stderr

        with httpx.Client(proxy=state.socks_proxy, trust_env=False, timeout=60) as http:
            assert http.get(f"http://{onion}/healthz").status_code == 200

        status = run_cli("status", directory=directory)
        assert status.returncode == 0, status.stderr
        assert onion in status.stdout
        assert status.stdout.count(" alive") == len(state.pids)

        again = run_cli("up", directory=directory, timeout=60)
        assert again.returncode != 0
        assert again.stderr.strip().splitlines()[-1].startswith("onionwatch: the lab in")
        assert "already running" in again.stderr
    finally:
        down = run_cli("down", directory=directory)
    assert down.returncode == 0, down.stderr
    assert f"stopped {len(state.pids)} lab processes" in down.stdout
    assert not any(pid_alive(pid) for pid in state.pids.values())
    assert leftovers(directory) == ""

    status = run_cli("status", directory=directory)
    assert status.returncode == 1
    assert "not running" in status.stderr
    assert run_cli("down", directory=directory).returncode == 0  # idempotent


@pytest.mark.lab
def test_up_failure_is_one_clear_line(tmp_path: Path) -> None:
    directory = tmp_path / "lab"
    directory.mkdir()
    # A regular file where the lab keeps its keys: tor-gencert cannot write there.
    (directory / "keys").write_text("not a directory")
    up = run_cli("up", directory=directory, timeout=60)
    assert up.returncode == 4  # LabError's exit code
    last = up.stderr.strip().splitlines()[-1]
    assert last.startswith("onionwatch: ") and "Traceback" not in up.stderr
    assert leftovers(directory) == ""
