"""The generic listing extractor on page layouts the project wrote (tables, definition lists, inline
labels, shop themes) and on real market pages from the shared corpus."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from onionwatch.crawler.pages.generic import extract_listing
from onionwatch.errors import PageError

from .conftest import corpus_page, html_page

TABLE_LAYOUT = """<html><head><title>Bazaar Market - 3.5g Peruvian Flake</title></head><body>
<nav><a href="/u/me">me</a> <span>Vendor</span> <a href="/sales">Sales</a></nav>
<h2>3.5g Peruvian Flake</h2>
<table><tr><td><b>Sold by</b></td><td><a href="/u/SnowKing">SnowKing</a> (212) 4.9/5</td></tr>
<tr><td>Origin Country</td><td>Netherlands</td>
<td>Ships to</td><td>Germany, Austria, France</td></tr>
<tr><td>Purchase price:</td><td>USD 245.00</td></tr></table>
<form action="/cart/add" method="post"><input name="qty" type="number" value="1">
<button>Buy now</button></form>
<div class="description"><p>Straight from the brick, never stepped on. Tested 91% with a reagent kit.
Vacuum sealed, ships next day, tracking included for EU orders.</p></div></body></html>"""

DL_LAYOUT = """<html><head><title>Item 77 | RiverSide</title></head><body>
<h1>Alprazolam 2mg x 100 (pharma blisters)</h1>
<dl><dt>Seller:</dt><dd><a href="/store/benzoboss">benzoboss</a></dd>
<dt>Price</dt><dd>€ 120,00</dd><dt>Ships from</dt><dd>Spain</dd><dt>Ships to</dt><dd>EU</dd></dl>
<input type="number" name="quantity" value="1"><input type="submit" value="Add to cart"></body></html>"""

INLINE_LAYOUT = """<html><head><title>Ketamine shards 5g</title></head><body>
<div>Ketamine shards 5g</div><p>Vendor: KetaQueen</p><p>Price: 0.0041 BTC</p><p>Ships from: United Kingdom</p>
<a href="/order?id=5">Order now</a></body></html>"""

SHOP_THEME = """<html><head><title>LSD 150ug blotters x10 – Tabs Shop</title></head><body>
<header><span>$</span> 0.00</header><h1>LSD 150ug blotters x10</h1>
<p class="price"><span class="currency">$</span>85.00</p>
<form class="cart"><input type="number" name="quantity"><button name="add-to-cart">Add to cart</button></form>
</body></html>"""


def test_table_layout() -> None:
    listing = extract_listing(html_page(TABLE_LAYOUT))
    assert listing.title == "3.5g Peruvian Flake"
    assert listing.vendor == "SnowKing"
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal(245),
        "USD",
    )
    assert listing.ships_from == "Netherlands"
    assert listing.ships_to == ("Germany", "Austria", "France")
    assert listing.description is not None and "never stepped on" in listing.description


def test_definition_list_layout_with_comma_decimal_euro() -> None:
    listing = extract_listing(html_page(DL_LAYOUT))
    assert listing.title == "Alprazolam 2mg x 100 (pharma blisters)"
    assert listing.vendor == "benzoboss"
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal("120.00"),
        "EUR",
    )
    assert (listing.ships_from, listing.ships_to) == ("Spain", ("EU",))


def test_inline_labels() -> None:
    listing = extract_listing(html_page(INLINE_LAYOUT))
    assert listing.vendor == "KetaQueen"
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal("0.0041"),
        "BTC",
    )
    assert listing.ships_from == "United Kingdom"


def test_shop_theme_without_price_label() -> None:
    listing = extract_listing(html_page(SHOP_THEME))
    assert listing.title == "LSD 150ug blotters x10"
    assert listing.price is not None and listing.price.amount == Decimal(85)


CARD_THEME = """<html><head><title>Listing #8812</title></head><body>
<div class="card"><div class="card-header"><h4>OG Kush 28g (1oz) Top Shelf</h4></div>
<div class="card-body"><p><b>Sold by:</b> <a href="/v/GreenLeaf">GreenLeaf</a> [Level 5]</p>
<p>Ship From: United States</p><span class="old-price">$150.00</span> <span class="price">$120.00</span>
<form><input name="qty" value="1"><button>Buy now</button></form>
<div class="tab-content"><p>Indoor grown, cured 3 weeks.</p></div></div></div></body></html>"""


def test_card_theme_generic_title_tag_price_class_short_description() -> None:
    """The <title> names the page type, not the item; the price is only a class; the description is
    short but sits in the theme's description tab; the struck-out old price is not the price."""
    listing = extract_listing(html_page(CARD_THEME))
    assert listing.title == "OG Kush 28g (1oz) Top Shelf"
    assert listing.vendor == "GreenLeaf"
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal(120),
        "USD",
    )
    assert listing.description == "Indoor grown, cured 3 weeks."


def test_not_a_listing_raises_page_error() -> None:
    with pytest.raises(PageError, match=r"no listing title|not a listing"):
        extract_listing(html_page("<html><head><title></title></head><body><p>hello</p></body></html>"))


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("file", "title", "vendor", "amount", "currency", "ships_from"),
    [
        ("dream/listing_0.html", "☢100 PILLS X Soma 350mg $49☢", "PHARMORA", "50.96", "USD", "United States"),
        (
            "empire/listing_13.html",
            "28g - Sherbert - Hybrid - 26% THC",
            "RealHarryWilson",
            "200.00",
            "USD",
            None,
        ),
        (
            "anita/drugsmedicine_listing_0.html",
            "1G of PURE UNCUT PERUVIAN COCAINE",
            "fredthebaker",
            "0.0060",
            "BTC",
            "Germany",
        ),
        ("anita/berlusconi_listing_0.html", "AXA MED TREN 1MG", "SocialPharma", "35", "EUR", "Europe"),
    ],
)
def test_real_listing_pages(
    corpus: Path, file: str, title: str, vendor: str, amount: str, currency: str, ships_from: str | None
) -> None:
    listing = extract_listing(corpus_page(file))
    assert listing.title == title
    assert listing.vendor == vendor
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal(amount),
        currency,
    )
    if ships_from:
        assert listing.ships_from == ships_from


@pytest.mark.corpus
def test_real_ships_to_keeps_order(corpus: Path) -> None:
    listing = extract_listing(corpus_page("empire/listing_10.html"))
    assert listing.ships_to == ("World Wide", "United States", "Asia", "Africa", "Antarctica(c)")


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("file", "start"),
    [
        ("scout/non_captcha/wethenorth_product_1.html", "this is real heroin with no fent"),
        ("empire/listing_7.html", "FULL INFO (SSN+DOB)"),
    ],
)
def test_real_short_descriptions_in_description_containers(corpus: Path, file: str, start: str) -> None:
    description = extract_listing(corpus_page(file)).description
    assert description is not None and description.startswith(start)


RUSSIAN_TABLE = """<html><head><title>Мефедрон кристаллы 1г</title></head><body>
<h1>Мефедрон кристаллы 1г</h1>
<table><tr><td>Продавец</td><td><a href="/shop/snezhok">Snezhok</a></td></tr>
<tr><td>Цена</td><td>3 500 ₽</td></tr></table><button>Купить</button>
<div class="description">Чистый мефедрон, кристаллы.</div></body></html>"""


def test_labels_of_russian_language_markets() -> None:
    listing = extract_listing(html_page(RUSSIAN_TABLE))
    assert (listing.title, listing.vendor) == ("Мефедрон кристаллы 1г", "Snezhok")
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal(3500),
        "RUB",
    )
    assert listing.description == "Чистый мефедрон, кристаллы."


SPANISH_TABLE = """<html><head><title>Cocaína 1g</title></head><body><h1>Cocaína 1g</h1>
<table><tr><td>Vendedor</td><td><a href="/u/blanco">ElBlanco</a></td></tr>
<tr><td>Precio</td><td>75 €</td></tr>
<tr><td>Envío desde</td><td>España</td></tr><tr><td>Envíos a</td><td>Europa</td></tr></table>
<button>Comprar</button></body></html>"""


def test_ship_labels_in_other_languages() -> None:
    listing = extract_listing(html_page(SPANISH_TABLE))
    assert (listing.vendor, listing.ships_from, listing.ships_to) == ("ElBlanco", "España", ("Europa",))
    assert listing.price is not None and (listing.price.amount, listing.price.currency) == (
        Decimal(75),
        "EUR",
    )
