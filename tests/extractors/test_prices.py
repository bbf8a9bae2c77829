"""Prices: currencies, symbols before and after, crypto, tiers, per-gram/per-unit, USD."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from onionwatch.extractors.numbers import parse_number
from onionwatch.extractors.prices import find_prices
from onionwatch.models import Enrichment

Extract = Callable[..., Enrichment]


def p(e: Enrichment) -> list[tuple[Decimal, str]]:
    return [(x.amount, x.currency) for x in e.prices]


@pytest.mark.parametrize(
    ("title", "amount", "currency"),
    [
        ("Cocaine 1g 40$", "40", "USD"),
        ("Cocaine 1g €25", "25", "EUR"),
        ("Cocaine 1g £60", "60", "GBP"),
        ("Cocaine 1g ₿0.002", "0.002", "BTC"),
        ("Cocaine 1g ฿0.0060", "0.0060", "BTC"),
        ("Cocaine 1g 0.0021 BTC", "0.0021", "BTC"),
        ("Cocaine 1g 0.45 XMR", "0.45", "XMR"),
        ("Cocaine 1g 35 EUR", "35", "EUR"),
        ("Cocaine 1g AU$350", "350", "AUD"),
        ("Cocaine 1g 350 AUD", "350", "AUD"),
        ("Cocaine 1g C$120", "120", "CAD"),
        ("Cocaine 100g $1.2k", "1200", "USD"),
        ("Cocaine 1kg $28,500", "28500", "USD"),
        ("Cocaine 1g 2mBTC", "0.002", "BTC"),
    ],
)
def test_currency_notations(extract: Extract, title: str, amount: str, currency: str) -> None:
    assert p(extract(title)) == [(Decimal(amount), currency)]


def test_tiers_pair_with_quantities(extract: Extract) -> None:
    e = extract("Cocaine 1g $40 / 5g $180")
    assert p(e) == [(Decimal(40), "USD"), (Decimal(180), "USD")]
    assert [x.quantity_index for x in e.prices] == [0, 1]
    assert [e.quantities[i].value for i in (0, 1)] == [Decimal(1), Decimal(5)]
    assert [x.per for x in e.prices] == ["listing", "listing"]


def test_tier_lines_in_description(extract: Extract) -> None:
    e = extract("MDMA crystals", "Prices:\n1g - 30€\n3.5g - 90€\n7g - 160€")
    assert [x.quantity_index for x in e.prices] == [0, 1, 2]
    assert [x.amount for x in e.prices] == [Decimal(30), Decimal(90), Decimal(160)]


def test_per_gram_and_per_unit(extract: Extract) -> None:
    e = extract("Ketamine $25/g, min 5g")
    assert [(x.amount, x.per) for x in e.prices] == [(Decimal(25), "gram")]
    e = extract("M30 pressed $6 each")
    assert [(x.amount, x.per) for x in e.prices] == [(Decimal(6), "unit")]


def test_shipping_cost_is_not_the_price(extract: Extract) -> None:
    e = extract("Cocaine 1g $80", "Shipping $10 worldwide")
    assert p(e) == [(Decimal(80), "USD")]


def test_usd_at_observation_date_with_rate_and_source(extract: Extract) -> None:
    e = extract("Cocaine 1g €100")
    price = e.prices[0]
    assert price.rate_date == date(2023, 5, 1)
    assert price.rate is not None and Decimal("1.05") < price.rate < Decimal("1.15")
    assert price.usd == (Decimal(100) * price.rate).quantize(Decimal("0.01"))
    assert price.rate_source is not None and "ECB" in price.rate_source


def test_btc_without_a_displayed_rate_uses_the_days_close(extract: Extract) -> None:
    price = extract("Cocaine 1g 0.002 BTC", crawled_at=datetime(2023, 5, 17, tzinfo=UTC)).prices[0]
    assert (price.rate_source, price.rate_date, price.rate) == (
        "btc_usd_daily_close",
        date(2023, 5, 17),
        Decimal("27072.41"),  # data/btc_usd_daily.csv
    )
    assert price.usd == Decimal("54.14")


def test_xmr_without_a_displayed_rate_uses_the_approximate_monthly_table(extract: Extract) -> None:
    price = extract("Cocaine 1g 0.5 XMR", crawled_at=datetime(2023, 5, 17, tzinfo=UTC)).prices[0]
    assert price.rate_source == "approx_monthly_table"
    assert price.rate_date == date(2023, 5, 1)  # the table's month, not the crawl day
    assert price.usd is not None and Decimal(50) < price.usd < Decimal(120)


def test_btc_with_a_displayed_rate_converts_with_the_market_rate(extract: Extract) -> None:
    price = extract(
        "Cocaine 1g 0.002 BTC",
        exchange_rates={"BTC": {"USD": Decimal("31234.50")}},
        crawled_at=datetime(2023, 5, 17, 9, tzinfo=UTC),
    ).prices[0]
    assert (price.rate, price.rate_source, price.rate_date) == (
        Decimal("31234.50"),
        "market",
        date(2023, 5, 17),
    )
    assert price.usd == Decimal("62.47")


def test_displayed_rate_in_another_fiat_goes_through_ecb(extract: Extract) -> None:
    price = extract("Cocaine 1g 0.5 XMR", exchange_rates={"XMR": {"EUR": Decimal(140)}}).prices[0]
    assert price.rate_source == "market+ecb"
    assert price.rate is not None and Decimal(140) < price.rate < Decimal(140 * 1.2)


def test_displayed_rate_of_another_coin_leaves_the_table_in_charge(extract: Extract) -> None:
    price = extract("Cocaine 1g 0.002 BTC", exchange_rates={"XMR": {"USD": Decimal(150)}}).prices[0]
    assert price.rate_source == "btc_usd_daily_close"


def test_fiat_price_ignores_displayed_crypto_rates(extract: Extract) -> None:
    price = extract("Cocaine 1g €100", exchange_rates={"BTC": {"USD": Decimal(30000)}}).prices[0]
    assert price.rate_source is not None and "ECB" in price.rate_source


def test_price_text_duplicate_is_one_price(extract: Extract) -> None:
    e = extract("Cocaine 1g $80", price_text="$80")
    assert p(e) == [(Decimal(80), "USD")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,200.50", "1200.50"),
        ("1.200,50", "1200.50"),
        ("0,002", "0.002"),
        ("25,00", "25.00"),
        (".5", "0.5"),
        ("1,5", "1.5"),
        ("12,000", "12000"),
    ],
)
def test_number_spellings(text: str, value: str) -> None:
    assert parse_number(text) == Decimal(value)


@pytest.mark.parametrize(
    ("title", "amount", "currency"),
    [
        ("Cocaine 1g NZ$ 70", "70", "NZD"),
        ("Cocaine 1g R$ 120", "120", "BRL"),
        ("Kokain 1g 45,- €", "45", "EUR"),
        ("Kokain 1g 45.- EUR", "45", "EUR"),
        ("Kokaina 1g 100 zł", "100", "PLN"),
        ("Мефедрон 1г 3000 руб.", "3000", "RUB"),
        ("Mephedrone 1g ₽ 3000", "3000", "RUB"),
        ("Кокаин 1г 1\u00a0200 €", "1200", "EUR"),
        ("Мефедрон 1г 3 500 ₽", "3500", "RUB"),
        ("Cocaine 1g 200 €", "200", "EUR"),
        ("Cocaine 1g 50 USDT", "50", "USDT"),
    ],
)
def test_currencies_and_notations_of_other_markets(
    extract: Extract, title: str, amount: str, currency: str
) -> None:
    assert p(extract(title)) == [(Decimal(amount), currency)]


_WRITTEN_BEFORE = [
    ("USD $", "USD"), ("US$", "USD"), ("AU$", "AUD"), ("CA$", "CAD"), ("A$", "AUD"), ("C$", "CAD"),
    ("NZ$", "NZD"), ("R$", "BRL"), ("$", "USD"), ("€", "EUR"), ("£", "GBP"), ("₿", "BTC"),
    ("฿", "BTC"), ("Ƀ", "BTC"), ("ɱ", "XMR"), ("₽", "RUB"), ("₴", "UAH"), ("EUR", "EUR"), ("GBP", "GBP"),
    ("AUD", "AUD"), ("CAD", "CAD"), ("CHF", "CHF"), ("BTC", "BTC"), ("XBT", "BTC"), ("XMR", "XMR"),
    ("LTC", "LTC"), ("ETH", "ETH"), ("BCH", "BCH"), ("USDT", "USDT"), ("BRL", "BRL"), ("RUB", "RUB"),
    ("UAH", "UAH"), ("zł", "PLN"), ("mBTC", "mBTC"),
]  # fmt: skip


@pytest.mark.parametrize(("written", "currency"), _WRITTEN_BEFORE)
@pytest.mark.parametrize("case", [str.upper, str.lower])
def test_every_currency_written_before_the_amount_in_any_case(
    written: str, currency: str, case: Callable[[str], str]
) -> None:
    # the price pattern opens with a look-ahead of the characters a price can start with
    found = find_prices(f"Cocaine 1g {case(written)}40")
    expected = (Decimal("0.04"), "BTC") if currency == "mBTC" else (Decimal(40), currency)
    assert [(f.amount, f.currency) for f in found] == [expected]


def test_usdt_is_a_dollar_at_its_peg(extract: Extract) -> None:
    price = extract("Cocaine 1g 50 USDT").prices[0]
    assert (price.usd, price.rate, price.rate_source) == (Decimal("50.00"), Decimal(1), "usdt_peg")


@pytest.mark.parametrize(
    "title",
    [
        "Cocaine 1g-5g-10g $80-$350-$650",
        "Cocaine 1g/5g/10g $80/$350/$650",
        "MDMA 1g/$80 5g/$350 10g/$650",
        "Cocaine 1g: $80, 5g: $350, 10g: $650",
    ],
)
def test_tiers_pair_in_lists_and_right_after_their_amount(extract: Extract, title: str) -> None:
    e = extract(title)
    assert [(x.amount, x.quantity_index) for x in e.prices] == [
        (Decimal(80), 0),
        (Decimal(350), 1),
        (Decimal(650), 2),
    ]
