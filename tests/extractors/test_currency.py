"""USD rates for crypto prices: the shipped daily table, how far a daily row reaches, the monthly
fallback (no server involved)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from onionwatch.extractors.currency import CRYPTO_SOURCE, DAILY_SOURCE, UsdConverter, default_converter


@pytest.fixture
def converter(tmp_path: Path) -> UsdConverter:
    daily = tmp_path / "btc.csv"
    daily.write_text(
        "# a comment line\ndate,usd\n2024-01-02,45000.50\n2024-01-01,44000\n2024-01-05,47000\n",
        encoding="utf-8",
    )
    monthly = tmp_path / "monthly.csv"
    monthly.write_text(
        "month,currency,usd\n2023-12,BTC,40000\n2024-01,BTC,43000\n2024-01,XMR,160\n", encoding="utf-8"
    )
    return UsdConverter(str(monthly), daily_paths={"BTC": str(daily)})


def test_a_day_in_the_table_is_its_close(converter: UsdConverter) -> None:
    rate = converter.rate("BTC", date(2024, 1, 2))
    assert rate is not None
    assert (rate.rate, rate.date, rate.source) == (Decimal("45000.50"), date(2024, 1, 2), DAILY_SOURCE)


def test_a_missing_day_takes_the_close_before_it_with_that_date(converter: UsdConverter) -> None:
    rate = converter.rate("BTC", date(2024, 1, 4))
    assert rate is not None and (rate.rate, rate.date) == (Decimal("45000.50"), date(2024, 1, 2))
    # past the table's end by a few days: still the last close, dated
    rate = converter.rate("BTC", date(2024, 1, 8))
    assert rate is not None and (rate.date, rate.source) == (date(2024, 1, 5), DAILY_SOURCE)


def test_outside_the_daily_table_the_monthly_table_answers(converter: UsdConverter) -> None:
    before = converter.rate("BTC", date(2023, 12, 20))
    assert before is not None and (before.rate, before.source) == (Decimal(40000), CRYPTO_SOURCE)
    # more than 3 days past the daily table's end
    after = converter.rate("BTC", date(2024, 1, 20))
    assert after is not None and (after.rate, after.date, after.source) == (
        Decimal(43000),
        date(2024, 1, 1),
        CRYPTO_SOURCE,
    )
    xmr = converter.rate("XMR", date(2024, 1, 2))
    assert xmr is not None and xmr.source == CRYPTO_SOURCE
    assert converter.rate("BTC", date(2024, 6, 1)) is None  # neither table reaches


def test_the_shipped_daily_table_covers_every_day_it_spans() -> None:
    converter = default_converter()
    days, values = converter._daily["BTC"]
    assert days[0] == date(2010, 7, 17) and days[-1] >= date(2026, 6, 3)
    assert len(days) == (days[-1] - days[0]).days + 1
    assert all(v > 0 for v in values)
    rate = converter.rate("BTC", date(2024, 3, 14))
    assert rate is not None and rate.source == DAILY_SOURCE and rate.date == date(2024, 3, 14)
