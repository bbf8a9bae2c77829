"""`onionwatch search`, `onionwatch vendor` and `onionwatch index` on the SQLite backend."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onionwatch.cli import app
from onionwatch.errors import QuerySyntaxError
from onionwatch.index.sqlite import SqliteStore

from .corpus import corpus

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    path = tmp_path / "cli.sqlite"
    with SqliteStore(path) as store:
        store.write(corpus())
    monkeypatch.chdir(tmp_path)  # no config/onionwatch.yaml from the checkout
    values = {"ONIONWATCH_STORE__SQLITE__PATH": str(path), "ONIONWATCH_DATA_DIR": str(tmp_path)}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return values


def test_search_table(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["search", '"china white"', "--facet", "market", "--limit", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["MARKET", "LISTING_ID", "VENDOR"]
    assert "-- 3 of 9 shown" in result.output
    assert result.output.count("china white") == 3
    assert lines[-1].startswith("market: ")


def test_search_json_and_csv(env: dict[str, str]) -> None:
    out = CliRunner().invoke(app, ["search", "fentanyl", "--market", "abacus", "--json", "--facet", "vendor"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["total"] == len(doc["hits"]) > 0
    assert all(h["market"] == "abacus" and "fentanyl" in h["substances"] for h in doc["hits"])
    assert sum(b["count"] for b in doc["facets"]["vendor"]) <= doc["total"]
    out = CliRunner().invoke(app, ["search", "--class", "stimulant", "--csv", "--all"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert rows and all("stimulant" in r["classes"] for r in rows)
    assert [f"{r['market']}:{r['listing_id']}" for r in rows] == sorted(
        f"{r['market']}:{r['listing_id']}" for r in rows
    )


def test_search_filters(env: dict[str, str]) -> None:
    out = CliRunner().invoke(
        app,
        [
            "search",
            "--min-ppg",
            "50",
            "--max-ppg",
            "100",
            "--sort",
            "price_per_gram",
            "--json",
            "--limit",
            "100",
        ],
    )
    assert out.exit_code == 0, out.output
    prices = [float(h["price_per_gram_usd"]) for h in json.loads(out.output)["hits"]]
    assert prices == sorted(prices) and prices and all(50 <= p <= 100 for p in prices)


def test_malformed_query(env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["search", "(fentanyl"])
    assert isinstance(result.exception, QuerySyntaxError)
    result = CliRunner().invoke(app, ["search", "--limit", "0", "--offset", "20000"])
    assert isinstance(result.exception, QuerySyntaxError)


def test_malformed_query_exit_code(env: dict[str, str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "onionwatch.cli", "search", "vendor:"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=env["ONIONWATCH_DATA_DIR"],
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "onionwatch: field 'vendor' at position 1 has no value"


def test_vendor_profile(env: dict[str, str]) -> None:
    out = CliRunner().invoke(app, ["vendor", "greendragon"])
    assert out.exit_code == 0, out.output
    assert out.output.startswith("vendor GreenDragon\n")
    assert "price per gram," in out.output
    out = CliRunner().invoke(app, ["vendor", "GREENDRAGON", "--json"])
    doc = json.loads(out.output)
    assert {m["market"] for m in doc["markets"]} == {"abacus", "bohemia", "cypher"}
    assert CliRunner().invoke(app, ["vendor", "nobody"]).exit_code == 1


def test_index_commands(env: dict[str, str]) -> None:
    assert "sqlite store ready" in CliRunner().invoke(app, ["index", "setup"]).output
    assert "nothing to migrate" in CliRunner().invoke(app, ["index", "migrate"]).output
    out = CliRunner().invoke(app, ["index", "status"]).output
    assert "listings: 60  observations: 60" in out


@pytest.fixture
def supply_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from .test_supply_contract import OTHER_FPR, supply_corpus, vendor_page

    path = tmp_path / "supply.sqlite"
    with SqliteStore(path) as store:
        store.write(supply_corpus())
        store.write_vendor_pages(
            [
                vendor_page("abacus", "CheMaster", fingerprints=(OTHER_FPR,)),
                vendor_page("cypher", "chem_master_eu", fingerprints=(OTHER_FPR,)),
            ]
        )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ONIONWATCH_STORE__SQLITE__PATH", str(path))
    monkeypatch.setenv("ONIONWATCH_DATA_DIR", str(tmp_path))


def test_search_supply_options_and_columns(supply_env: None) -> None:
    out = CliRunner().invoke(
        app, ["search", "--category", "precursors", "--international", "--facet", "origin"]
    )
    assert out.exit_code == 0, out.output
    header, row = out.output.splitlines()[:2]
    assert header.split()[:6] == ["MARKET", "LISTING_ID", "VENDOR", "CATEGORY", "SUBSTANCES", "FROM"]
    assert row.split()[:6] == ["abacus", "p1", "CheMaster", "precursors", "npp", "CN*"]
    assert "[$] NPP 1kg" in row  # shows a wallet address
    assert "origin: CN (1)" in out.output
    out = CliRunner().invoke(app, ["search", "--no-wallet", "--origin", "de", "--csv"])
    rows = list(csv.DictReader(io.StringIO(out.output)))
    assert [(r["listing_id"], r["category"], r["origin"], r["wallets"]) for r in rows] == [
        ("w1", "weapons", "DE", "")
    ]


def test_identities_and_vendor_profile_show_the_link(supply_env: None) -> None:
    from .test_supply_contract import OTHER_FPR

    out = CliRunner().invoke(app, ["identities"])
    assert out.exit_code == 0, out.output
    assert "identity 1: CheMaster@abacus, chem_master_eu@cypher" in out.output
    assert f"same pgp {OTHER_FPR}: CheMaster@abacus, chem_master_eu@cypher" in out.output
    out = CliRunner().invoke(app, ["vendor", "chemaster"])
    assert out.exit_code == 0, out.output
    assert "linked identity: CheMaster@abacus, chem_master_eu@cypher" in out.output
    assert "wallet 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2  on abacus as CheMaster" in out.output
