"""The CLI's edges: exit codes and one clear line instead of a traceback."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import onionwatch_cli
from tests.support.servers import free_port


def test_a_command_that_exits_non_zero_is_seen_by_the_shell(tmp_path: Path) -> None:
    # Nothing archived: reparse has nothing to rebuild and says so with exit 1.
    result = onionwatch_cli(
        "reparse", "--into", str(tmp_path / "r.sqlite"), env={"ONIONWATCH_DATA_DIR": str(tmp_path)}
    )
    assert result.returncode == 1
    assert "reparsed 0 archive file(s)" in result.stdout


def test_project_errors_are_one_line_with_their_exit_code(tmp_path: Path) -> None:
    result = onionwatch_cli("tor", "status", env={"ONIONWATCH_TOR__CONTROL_PORT": str(free_port())})
    assert result.returncode == 3
    assert result.stderr.startswith("onionwatch: Tor control port") and "Traceback" not in result.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("store:\n  backend: mongodb\n")
    result = onionwatch_cli("markets", env={"ONIONWATCH_CONFIG": str(bad)})
    assert result.returncode == 2 and "store.backend" in result.stderr


def test_usage_errors_keep_click_exit_code() -> None:
    result = onionwatch_cli("crawl", "--no-such-option", env={})
    assert result.returncode == 2
    assert "No such option" in result.stderr
