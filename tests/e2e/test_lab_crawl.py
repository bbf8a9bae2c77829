"""Through real Tor: the lab's private network, its onion market, the real CLI and the real store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from stem.control import EventType

from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import LabState, controller
from onionwatch.lab.truth import compare, load_truth
from tests.conftest import onionwatch_cli

pytestmark = pytest.mark.lab


def _env(lab: LabState, data_dir: Path) -> dict[str, str]:
    return {"ONIONWATCH_LAB__DIRECTORY": str(lab.directory), "ONIONWATCH_DATA_DIR": str(data_dir)}


def test_crawl_through_tor_stores_every_listing_as_the_market_shows_it(lab: LabState, tmp_path: Path) -> None:
    streams: list[Any] = []
    lock = threading.Lock()

    def on_stream(event: Any) -> None:
        with lock:
            streams.append(event)

    # Only this market: its onion must be the only one the client reaches (the others have their
    # own test in test_engines_crawl.py).
    with controller(lab) as tor:
        tor.add_event_listener(on_stream, EventType.STREAM)
        first = onionwatch_cli("crawl", "nightshade", env=_env(lab, tmp_path))
        second = onionwatch_cli("crawl", "nightshade", env=_env(lab, tmp_path))
        tor.remove_event_listener(on_stream)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr

    market = lab.markets["nightshade"]
    truth = load_truth(lab.directory / "markets" / "nightshade")
    with SqliteStore(tmp_path / "onionwatch.sqlite") as store:
        report = compare(store, truth)
        assert report.missing == []
        assert report.mismatched == {}
        assert report.matched == report.expected == len(truth["listings"])
        # Crawled twice: one listing each, two observations each, nothing new the second time.
        assert store.count_listings("nightshade") == report.expected
        assert store.count_observations("nightshade") == 2 * report.expected
    assert "new_listing=" in first.stdout and "new_listing=" not in second.stdout

    # The client tor carried the crawl: its control port saw successful streams to the onion.
    # (Tor's own directory fetches show up too, as "<ip>.$<fingerprint>.exit" on a DirPort.)
    web = {e.target_address for e in streams if e.status == "SUCCEEDED" and e.target_port == 80}
    assert web == {market.onion}


def test_enrichment_flags_fentanyl_listings_from_the_lab(lab: LabState, tmp_path: Path) -> None:
    result = onionwatch_cli("crawl", "nightshade", env=_env(lab, tmp_path))
    assert result.returncode == 0, result.stderr
    truth = load_truth(lab.directory / "markets" / "nightshade")
    with SqliteStore(tmp_path / "onionwatch.sqlite") as store:
        report = compare(store, truth)
    assert report.fentanyl_true > 0
    assert report.fentanyl_found == report.fentanyl_true
    assert report.fentanyl_false_alarms == 0
