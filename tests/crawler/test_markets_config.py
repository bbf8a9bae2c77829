"""Markets as configuration (validated on load) and mirror failover across a crawl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onionwatch.errors import ConfigError
from onionwatch.index.sqlite import SqliteStore
from onionwatch.settings import load_markets
from tests.conftest import onionwatch_cli
from tests.support.servers import market_backend
from tests.support.socks5 import Socks5Server

DEAD = "deadmirror".ljust(56, "q") + ".onion"
LIVE = "livemirror".ljust(56, "q") + ".onion"

GOOD = f"""
name: shop
engine: nightshade
mirrors:
  - http://{DEAD}/
  - http://{LIVE}
concurrency: 4
download_delay: 0
"""


def _write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(text)
    return path


def test_valid_market_config_loads(tmp_path: Path) -> None:
    _write(tmp_path, "shop", GOOD)
    market = load_markets(tmp_path)["shop"]
    assert market.mirrors == [f"http://{DEAD}/", f"http://{LIVE}/"]
    assert market.start_paths == ["/"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "proxy: http://127.0.0.1:8118\n", "proxy: Extra inputs are not permitted"),
        (GOOD.replace(DEAD, "facebookcorewwwi.onion"), "not a v3 onion address"),
        (GOOD.replace(f"http://{LIVE}", "ftp://example.com/"), "not an http"),
        (GOOD.replace(f"http://{LIVE}", f"http://{LIVE}/?ref=1"), "without query"),
        (GOOD.replace("concurrency: 4", "concurrency: 0"), "concurrency"),
        (GOOD.replace("name: shop", "name: Shop Market"), "name"),
        ("name: shop\nengine: nightshade\nmirrors: []\n", "mirrors"),
        ("name: [oops\n", "cannot read"),
    ],
)
def test_bad_market_config_is_one_clear_error_naming_the_file(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, "shop", text)
    with pytest.raises(ConfigError) as info:
        load_markets(tmp_path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_market_name_must_match_its_file(tmp_path: Path) -> None:
    _write(tmp_path, "other", GOOD)
    with pytest.raises(ConfigError, match="must match the file name"):
        load_markets(tmp_path)


def test_dead_mirror_fails_over_and_the_next_crawl_starts_on_the_live_one(tmp_path: Path) -> None:
    markets = tmp_path / "markets"
    _write(markets, "shop", GOOD)
    data = tmp_path / "var"
    env = {
        "ONIONWATCH_DATA_DIR": str(data),
        "ONIONWATCH_MARKETS_DIR": str(markets),
        "ONIONWATCH_CRAWL__ENRICH": "false",
    }
    with (
        market_backend(tmp_path / "m", listings=30) as port,
        Socks5Server({LIVE: ("127.0.0.1", port)}) as socks,
    ):
        first = onionwatch_cli("crawl", "shop", "--socks", socks.address, "--json", env=env)
        assert first.returncode == 0, first.stderr
        dead_attempts = sum(c.host == DEAD for c in socks.recorder.connects)
        second = onionwatch_cli("crawl", "shop", "--socks", socks.address, "--json", env=env)
        assert second.returncode == 0, second.stderr
        assert sum(c.host == DEAD for c in socks.recorder.connects) == dead_attempts  # not tried again
    assert dead_attempts >= 1
    report = json.loads(first.stdout)[0]
    assert report["listings_stored"] == 30
    health = json.loads((data / "mirrors" / "shop.json").read_text())
    assert health[f"http://{DEAD}"]["consecutive_failures"] >= 1
    assert health[f"http://{LIVE}"]["last_ok"] is not None
    with SqliteStore(data / "onionwatch.sqlite") as store:
        assert store.count_listings("shop") == 30  # one stable market id, whichever mirror served


def test_every_start_path_is_an_entry_page(tmp_path: Path) -> None:
    markets = tmp_path / "markets"
    # The first entry page is gone (404); the crawl still enters through the second one.
    _write(
        markets,
        "shop",
        f"name: shop\nengine: nightshade\nmirrors: [http://{LIVE}/]\nstart_paths: [/gone, /]\n",
    )
    env = {
        "ONIONWATCH_DATA_DIR": str(tmp_path / "var"),
        "ONIONWATCH_MARKETS_DIR": str(markets),
        "ONIONWATCH_CRAWL__ENRICH": "false",
    }
    with (
        market_backend(tmp_path / "m", listings=12) as port,
        Socks5Server({LIVE: ("127.0.0.1", port)}) as socks,
    ):
        result = onionwatch_cli("crawl", "shop", "--socks", socks.address, "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["listings_stored"] == 12


def test_the_shipped_example_market_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "markets" / "example.yaml.example"
    _write(tmp_path, "example", example.read_text())
    market = load_markets(tmp_path)["example"]
    assert market.login is not None and market.login.password is None  # secrets come from the env
