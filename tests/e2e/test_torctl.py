"""Tor control (stem) against the lab's real client tor."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from onionwatch.crawler.torctl import TorControl, _parse_bootstrap
from onionwatch.errors import TorUnavailableError
from onionwatch.lab.lab import LabState
from tests.support.servers import free_port

pytestmark = pytest.mark.lab


def test_health_of_a_bootstrapped_tor(lab: LabState) -> None:
    with TorControl(lab.control_port, cookie_path=lab.control_cookie) as tor:
        health = tor.wait_ready(timeout=30)
    assert health.ready and health.bootstrap_progress == 100
    assert f"127.0.0.1:{lab.socks_port}" in health.socks_listeners
    assert "ready" in health.describe()


def test_isolation_keys_get_their_own_circuits(lab: LabState) -> None:
    url = lab.markets["nightshade"].url + "healthz"
    for key in ("market-a", "market-b"):
        proxy = f"socks5h://{key}:session1@{lab.socks_host}:{lab.socks_port}"
        with httpx.Client(proxy=proxy, timeout=60) as client:
            assert client.get(url).status_code == 200
    with TorControl(lab.control_port, cookie_path=lab.control_cookie) as tor:
        circuits = tor.circuits_by_isolation()
    assert circuits.get("market-a", 0) >= 1
    assert circuits.get("market-b", 0) >= 1


def test_new_identity_honours_tors_rate_limit(lab: LabState) -> None:
    with TorControl(lab.control_port, cookie_path=lab.control_cookie) as tor:
        tor.new_identity()  # may itself be rate-limited by an earlier test; the second call must be
        assert tor.new_identity() > 0


def test_unreachable_control_port_is_a_clear_error() -> None:
    with pytest.raises(TorUnavailableError, match="not reachable"):
        TorControl(free_port())


def test_wrong_cookie_is_a_clear_error(lab: LabState, tmp_path: Path) -> None:
    bogus = tmp_path / "cookie"
    bogus.write_bytes(b"\0" * 32)
    with pytest.raises(TorUnavailableError, match="cannot authenticate"):
        TorControl(lab.control_port, cookie_path=bogus)


def test_bootstrap_line_parsing() -> None:
    line = 'NOTICE BOOTSTRAP PROGRESS=75 TAG=enough_dirinfo SUMMARY="Loaded enough directory info"'
    assert _parse_bootstrap(line) == (75, "Loaded enough directory info")
    assert _parse_bootstrap("") == (0, "")
