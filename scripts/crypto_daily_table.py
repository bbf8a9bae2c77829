"""Regenerate ``onionwatch/extractors/data/btc_usd_daily.csv``, the shipped daily BTC/USD table.

    .venv/bin/python scripts/crypto_daily_table.py [--version 0.18.0 --sha256 HEX]

The rows come from the crates.io package ``btctax-adapters`` (file ``data/btc_usd_daily_close.csv``:
one daily close per calendar day; its project names Quantoshi's ``BitcoinPricesDaily.csv``, from
Binance / CoinGecko, as the origin), licensed "MIT OR Unlicense"; onionwatch uses it under the
Unlicense. The package is fetched from the crates.io download host (a package registry, reachable
where the Internet is not), its SHA-256 is checked, and the table is rewritten with a header that
states all of this. A newer package version: pass --version and its --sha256 (the "cksum" in
the crates.io index, https://index.crates.io/bt/ct/btctax-adapters).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import tarfile
import urllib.request
from datetime import date
from decimal import Decimal
from pathlib import Path

CRATE = "btctax-adapters"
MEMBER = "data/btc_usd_daily_close.csv"
PINNED = {
    "0.14.0": "44effd37aabf4eb31c0e0ecf6cbe26b07e21bb37623dd77ab82d32ae6b22a25f",
    "0.18.0": "607d99339712144d4e27b34563823e4d0d0960323067d6bb38a75699c43ff3d2",
}
OUT = Path(__file__).resolve().parents[1] / "onionwatch" / "extractors" / "data" / "btc_usd_daily.csv"


def fetch(version: str, sha256: str) -> bytes:
    url = f"https://static.crates.io/crates/{CRATE}/{CRATE}-{version}.crate"
    with urllib.request.urlopen(url, timeout=60) as resp:
        blob: bytes = resp.read()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{url}: sha256 {digest}, expected {sha256}")
    return blob


def rows(blob: bytes, version: str) -> list[tuple[date, Decimal]]:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        member = tar.extractfile(f"{CRATE}-{version}/{MEMBER}")
        if member is None:
            raise SystemExit(f"{MEMBER} missing from {CRATE} {version}")
        text = member.read().decode("utf-8")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        value = Decimal(row["usd_close"])
        if value <= 0:
            raise SystemExit(f"non-positive close on {row['date']}")
        out.append((date.fromisoformat(row["date"]), value))
    days = [d for d, _ in out]
    if days != sorted(set(days)):
        raise SystemExit("dates are not strictly ascending")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--version", default="0.18.0")
    parser.add_argument("--sha256", default=None)
    args = parser.parse_args()
    sha256 = args.sha256 or PINNED.get(args.version)
    if sha256 is None:
        raise SystemExit(f"no pinned sha256 for {args.version}: pass --sha256")
    table = rows(fetch(args.version, sha256), args.version)
    days = (table[-1][0] - table[0][0]).days + 1
    header = (
        f"# Daily BTC/USD close: {len(table)} rows, {table[0][0]} to {table[-1][0]}"
        f" ({days - len(table)} of {days} calendar days missing).\n"
        f"# Source: crates.io package {CRATE} {args.version}, file {MEMBER},\n"
        f"# package sha256 {sha256}.\n"
        "# Its project names Quantoshi's BitcoinPricesDaily.csv (Binance / CoinGecko closes) as the\n"
        "# origin. Licence: MIT OR Unlicense; used here under the Unlicense. Regenerate with\n"
        '# scripts/crypto_daily_table.py. Prices carry rate_source "btc_usd_daily_close".\n'
    )
    body = "".join(f"{d.isoformat()},{v}\n" for d, v in table)
    OUT.write_text(header + "date,usd\n" + body, encoding="utf-8")
    print(f"wrote {OUT} ({len(table)} days, {table[0][0]} to {table[-1][0]})")


if __name__ == "__main__":
    main()
