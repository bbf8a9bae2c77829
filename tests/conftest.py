"""Fixtures shared by every test package: the lab (real Tor network) and crawl helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def onionwatch_cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process (Twisted's reactor runs once per process)."""
    return subprocess.run(
        [sys.executable, "-m", "onionwatch.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One private Tor network with the simulated markets for the whole session.

    ONIONWATCH_TEST_LAB=<dir> reuses a lab already running there (for quick local iterations).
    """
    reuse = os.environ.get("ONIONWATCH_TEST_LAB")
    if reuse:
        from onionwatch.lab.lab import Lab as RunningLab

        state = RunningLab.status(Path(reuse))
        if state is None or not state.running:
            pytest.fail(f"ONIONWATCH_TEST_LAB={reuse}: no running lab there")
        yield state
        return
    if shutil.which("tor") is None and not Path("/usr/sbin/tor").exists():
        pytest.fail("Debian's tor is not installed: run ./run setup")
    from onionwatch.lab.lab import Lab

    directory = tmp_path_factory.mktemp("lab")
    with Lab(directory, base_port=28000) as state:
        yield state
