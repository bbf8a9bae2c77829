"""Through real Tor: a market changes between two crawls (removed listings, price cuts, a new
vendor selling fentanyl), and the archive rebuilds exactly what the crawl stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onionwatch.index.sqlite import SqliteStore
from onionwatch.lab.lab import Lab
from onionwatch.lab.market.catalogue import evolve, generate
from onionwatch.lab.market.supply import with_supply_chain
from tests.conftest import onionwatch_cli

pytestmark = pytest.mark.lab


def test_recrawl_sees_removals_price_cuts_and_a_new_vendor_and_reparse_equals_crawl(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    args = {"nightshade": ["--listings", "40", "--seed", "21"]}
    with Lab(lab_dir, base_port=28350, markets=["nightshade"], market_args=args):
        env = {"ONIONWATCH_LAB__DIRECTORY": str(lab_dir), "ONIONWATCH_DATA_DIR": str(tmp_path / "var")}
        first = onionwatch_cli("crawl", "nightshade", "--json", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        (lab_dir / "markets" / "nightshade" / "epoch").write_text("1")
        second = onionwatch_cli("crawl", "nightshade", "--json", env=env)
        assert second.returncode == 0, second.stderr[-3000:]

    # what the lab's market serves: the seeded catalogue and its supply-chain vendors
    before = with_supply_chain(generate("nightshade", seed=21, listings=40))
    after = evolve(before, 1)
    old = {item.listing_id: item for item in before.listings}
    new = {item.listing_id: item for item in after.listings}
    removed = set(old) - set(new)
    cut = {i for i in set(old) & set(new) if old[i].price_usd != new[i].price_usd}
    report = json.loads(second.stdout)[0]
    assert report["removed"] == len(removed) > 0
    assert report["events"]["price_change"] == len(cut) > 0
    assert report["events"]["new_vendor"] >= 1  # NewPlug1 at least, selling a fentanyl listing
    store_path = tmp_path / "var" / "onionwatch.sqlite"
    with SqliteStore(store_path) as store:
        assert all(store.get("nightshade", i).removed for i in removed)  # type: ignore[union-attr]
        newcomer = [s for s in (store.get("nightshade", i) for i in set(new) - set(old)) if s is not None]
        assert any(s.listing.vendor == "NewPlug1" and s.enrichment.fentanyl_class for s in newcomer)

    rebuilt = tmp_path / "rebuilt.sqlite"
    result = onionwatch_cli("reparse", "--into", str(rebuilt), env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    with SqliteStore(store_path) as crawled, SqliteStore(rebuilt) as reparsed:
        assert reparsed.count_observations() == crawled.count_observations()
        for listing_id in set(old) | set(new):
            a, b = crawled.get("nightshade", listing_id), reparsed.get("nightshade", listing_id)
            assert a is not None and b is not None
            assert (a.listing, a.enrichment, a.first_seen, a.last_seen) == (
                b.listing,
                b.enrichment,
                b.first_seen,
                b.last_seen,
            )
