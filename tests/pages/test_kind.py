"""Page-kind detection on walls and content pages the project wrote, and on the shared corpus
(measured on markets the rules were not written for; the target is accuracy, not perfection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from onionwatch.crawler.pages.kind import detect_kind
from onionwatch.models import PageKind

from .conftest import corpus_page, html_page
from .test_generic import DL_LAYOUT, TABLE_LAYOUT

LOGIN = """<html><head><title>Welcome</title></head><body><h1>Sign in</h1><form method="post">
<input name="u"><input type="password" name="p"><img src="/captcha.png"><input name="captcha">
<button>Login</button></form></body></html>"""
CAPTCHA = """<html><head><title>Verify</title></head><body><form><img src="/cap/1.png" alt="captcha">
<input name="captcha_code"><input type="submit" value="Continue"></form></body></html>"""
DDOS = """<html><head><title>Please wait</title></head><body><p>You are in the queue. Estimated wait 40 s.
This page refreshes itself.</p></body></html>"""
PHISHING = """<html><head><title>Security check</title></head><body><form>
<p>Complete the onion address before you continue: abcd...xyz.onion</p>
<input name="c1"><input name="c2"><button>Check</button></form></body></html>"""
NOT_FOUND = """<html><head><title>Error</title></head><body><h1>404</h1>
<p>The page you requested was not found.</p>
</body></html>"""
SEARCH = (
    "<html><head><title>Results</title></head><body>"
    + "".join(f'<div><a href="/listing/{i}">Item {i}</a> <span>${10 + i}.00</span></div>' for i in range(12))
    + "</body></html>"
)
VENDOR = """<html><head><title>SnowKing</title></head><body><h1>SnowKing</h1><p>Member since March 2023.
Last seen 2 hours ago. Total sales: 1,204. Average rating 4.92/5.</p>
<a href="/u/SnowKing/feedback">feedback</a></body></html>"""


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (LOGIN, PageKind.LOGIN),
        (CAPTCHA, PageKind.CAPTCHA),
        (DDOS, PageKind.DDOS),
        (PHISHING, PageKind.CAPTCHA),
        (NOT_FOUND, PageKind.NOT_FOUND),
        (SEARCH, PageKind.SEARCH),
        (VENDOR, PageKind.VENDOR),
        (TABLE_LAYOUT, PageKind.LISTING),
        (DL_LAYOUT, PageKind.LISTING),
        ("", PageKind.OTHER),
    ],
)
def test_written_pages(body: str, kind: PageKind) -> None:
    assert detect_kind(html_page(body)) is kind


@pytest.mark.corpus
def test_corpus_kind_accuracy(corpus: Path) -> None:
    from onionwatch.extractors.evaluation import ACCEPTED_KINDS

    rows = []
    for market in ("dream", "empire"):
        for entry in json.loads((corpus / "pages" / market / "expected.json").read_text()):
            rows.append((f"{market}/{entry['file']}", entry["kind"]))
    for folder in ("anita", "scout"):
        for name, label in json.loads((corpus / "pages" / folder / "labels.json").read_text()).items():
            rows.append((f"{folder}/{name}", label["kind"]))
    hits = sum(detect_kind(corpus_page(f)).value in ACCEPTED_KINDS[k] for f, k in rows)
    assert hits / len(rows) >= 0.9


CATEGORY_TABLE = """<html><head><title>Benzos</title></head><body><table>
<tr><th>Item</th><th>Vendor</th><th>Ships from</th><th>Price</th></tr>
<tr><td><a href="/index.php?page=listing&id=11">Xanax 2mg x20</a></td><td>benzoboss</td>
<td>Spain</td><td>49,31 €</td></tr>
<tr><td><a href="/index.php?page=listing&id=12">Valium 10mg x50</a></td><td>calm</td>
<td>UK</td><td>£30</td></tr>
</table></body></html>"""
SHOP_WITH_STATS = """<html><head><title>GreenDragon's shop</title></head><body><h1>GreenDragon</h1>
<p>★ 4.9 · 812 sales · ships from Canada · since 2022-03</p>
<a href="/listing/weed-28g-1">Weed 28g</a> $180
<a href="/listing/hash-10g-2">Hash 10g</a> $90</body></html>"""


def test_a_table_header_row_is_not_a_listing() -> None:
    assert detect_kind(html_page(CATEGORY_TABLE)) is PageKind.SEARCH


def test_vendor_shop_with_stats_line() -> None:
    assert detect_kind(html_page(SHOP_WITH_STATS)) is PageKind.VENDOR


# a member's page without stats words: tabs and paging all point at one member, named in the title
MEMBER_TABS = (
    "<html><head><title>Contact PinkQueen</title></head><body>"
    + "".join(f'<a href="?page={i}&member=PinkQueen">tab {i}</a>' for i in range(6))
    + "".join(f'<div><a href="./viewProduct?offer={i}">Item {i}</a> ${10 + i}</div>' for i in range(12))
    + "</body></html>"
)
# the same result list where every row links a different seller: a search, not a profile
RESULTS_WITH_SELLERS = (
    "<html><head><title>Results</title></head><body>"
    + "".join(
        f'<div><a href="./viewProduct?offer={i}">Item {i}</a> ${10 + i} by '
        f'<a href="?member=seller{i}">seller{i}</a></div>'
        for i in range(12)
    )
    + "</body></html>"
)


def test_member_named_in_title_with_their_tabs_is_a_vendor_page() -> None:
    assert detect_kind(html_page(MEMBER_TABS)) is PageKind.VENDOR


def test_result_rows_of_many_sellers_stay_a_search() -> None:
    assert detect_kind(html_page(RESULTS_WITH_SELLERS)) is PageKind.SEARCH


@pytest.mark.parametrize(
    "button", ["In den Warenkorb", "Comprar", "Ajouter au panier", "Add to bag", "Купить"]
)
def test_buy_controls_in_other_languages_make_a_listing(button: str) -> None:
    page = html_page(
        "<html><head><title>Kokain 1g</title></head><body><h1>Kokain 1g</h1>"
        "<p>Verkäufer: <a href='/u/schnee'>schnee</a></p><p>€ 80,00</p>"
        f"<button>{button}</button></body></html>"
    )
    assert detect_kind(page) == PageKind.LISTING


def test_member_profile_in_russian_is_a_vendor_page() -> None:
    page = html_page(
        "<html><head><title>Snezhok</title></head><body><h1>Магазин Snezhok</h1>"
        "<p>На сайте с 2021</p><p>Продаж: 1520</p><p>Был в сети сегодня</p></body></html>"
    )
    assert detect_kind(page) == PageKind.VENDOR
