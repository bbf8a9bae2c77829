"""The crawler end to end over loopback, without Tor: a stand-in SOCKS5 server records the handshake.

These are fast checks of the SOCKS semantics (hostname sent unresolved, isolation credentials),
fail-closed behaviour and re-crawl idempotency. The same path through the lab's real Tor network is
tested in tests/e2e.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from onionwatch.index.sqlite import SqliteStore
from tests.conftest import REPO, onionwatch_cli
from tests.support.servers import Canary, market_backend
from tests.support.socks5 import Socks5Server

ONION = "nightshade2k3zxwqzptnxdbfjikzgcq3ha5yveuxr7kwkpfl3ordsmt5xqmyd.onion"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    with market_backend(tmp_path_factory.mktemp("market")) as port:
        yield port


def _crawl_script(url: str, socks: str, store: Path) -> dict[str, object]:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crawl_script",
            "--url",
            url,
            "--socks",
            socks,
            "--store",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_every_request_goes_to_socks_with_hostname_and_isolation(backend: int, tmp_path: Path) -> None:
    with Socks5Server({ONION: ("127.0.0.1", backend)}) as socks:
        env = {"ONIONWATCH_DATA_DIR": str(tmp_path), "ONIONWATCH_CRAWL__ENRICH": "false"}
        result = onionwatch_cli(
            "crawl", "nightshade", "--url", f"http://{ONION}/", "--socks", socks.address, env=env
        )
        assert result.returncode == 0, result.stderr
        connects = [c for c in socks.recorder.connects if c.port == 80]
    assert connects, "no request reached the SOCKS port"
    # socks5h: the name goes to the proxy unresolved (address type 3), never an IP resolved here.
    assert {(c.atype, c.host) for c in connects} == {(3, ONION)}
    # One isolation key per market session: the market's name, one session password.
    assert {c.username for c in connects} == {"nightshade"}
    assert len({c.password for c in connects}) == 1
    with SqliteStore(tmp_path / "onionwatch.sqlite") as store:
        assert store.count_listings("nightshade") == 60


def test_recrawl_keeps_first_seen_and_creates_no_duplicates(backend: int, tmp_path: Path) -> None:
    store_path = tmp_path / "store.sqlite"
    with Socks5Server({ONION: ("127.0.0.1", backend)}) as socks:
        first = _crawl_script(f"http://{ONION}/", socks.address, store_path)
        with SqliteStore(store_path) as store:
            one = store.get("nightshade", "1001")
        second = _crawl_script(f"http://{ONION}/", socks.address, store_path)
    assert first["stored"] == second["stored"] == 60
    with SqliteStore(store_path) as store:
        assert store.count_listings("nightshade") == 60
        assert store.count_observations("nightshade") == 120
        again = store.get("nightshade", "1001")
    assert one is not None and again is not None
    assert again.first_seen == one.first_seen
    assert again.last_seen > one.last_seen
    assert again.observations == 2


def test_tor_down_means_no_request_goes_anywhere(tmp_path: Path) -> None:
    """Fail closed: SOCKS port closed -> the crawl pauses, gives up, keeps its queue; zero canary hits."""
    with Socks5Server() as probe:
        closed = probe.address
    # `probe` is shut down: its port now refuses connections, like a dead Tor.
    with Canary() as canary:
        result = _crawl_script(canary.url, closed, tmp_path / "s.sqlite")
        assert canary.hits == 0
    assert result["stored"] == 0
    assert result["finish_reason"] == "tor_unavailable"
    stats = result["stats"]
    assert isinstance(stats, dict)
    assert int(stats["tor/outage/paused"]) == 1 and int(stats["tor/outage/gave_up"]) == 1
    # The unfetched request is kept for the next run, not dropped.
    assert (tmp_path / "jobs" / "nightshade" / "job.json").is_file()


def test_tor_not_configured_means_no_handler_and_no_hits(tmp_path: Path) -> None:
    with Canary() as canary:
        result = _crawl_script(canary.url, "", tmp_path / "s.sqlite")
        assert canary.hits == 0
    assert result["stored"] == 0


def test_cli_refuses_to_crawl_when_tor_is_down(tmp_path: Path) -> None:
    with Socks5Server() as probe:
        closed = probe.address
    with Canary() as canary:
        result = onionwatch_cli(
            "crawl", "x", "--url", canary.url, "--socks", closed, env={"ONIONWATCH_DATA_DIR": str(tmp_path)}
        )
        assert canary.hits == 0
    assert result.returncode == 3
    assert "not reachable" in result.stderr and "nothing was fetched" in result.stderr
    assert "Traceback" not in result.stderr
