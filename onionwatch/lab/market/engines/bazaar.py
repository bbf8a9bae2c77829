"""Bazaar: an old-school PHP market. Everything goes through ``index.php`` with query strings
(``?page=cat&c=3&p=2``, ``?page=listing&id=1234``, ``?page=vendor&name=X``), listings sit in table rows,
pagination is numbered links, and vendors price in EUR (continental notation, "55,20 €") or in BTC with
a dollar hint ("0.00056789 BTC (≈ $55.20)")."""

from __future__ import annotations

from decimal import Decimal
from html import escape
from http import HTTPStatus
from typing import ClassVar
from urllib.parse import quote

from onionwatch.lab.market.catalogue import BTC_USD, EUR_USD, Catalogue, ListingTruth, VendorTruth
from onionwatch.lab.market.engines.base import CHAIN_LABELS, MarketEngine, Rendered, fmt_qty, slug, to_int

_NOT_FOUND = (
    '<div class="error"><h2>Error 404</h2><p>The page you requested could not be found. It may have been '
    'removed by the vendor or by staff.</p><p><a href="index.php">Back to the front page</a></p></div>'
)


def euro(amount: str) -> str:
    """ "1234.50" -> "1.234,50 €": continental notation, as this market prints euro amounts."""
    whole, _, cents = amount.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    return f"{'.'.join([whole, *groups])},{cents or '00'} €"


class BazaarEngine(MarketEngine):
    name = "bazaar"
    currencies: ClassVar[tuple[str, ...]] = ("EUR", "BTC")
    page_size: ClassVar[int] = 10

    def __init__(self, catalogue: Catalogue) -> None:
        super().__init__(catalogue)
        # Numeric category ids, in the order the menu lists them (PHP markets number their categories).
        self._cat_ids = {str(n): key for n, key in enumerate(sorted(self._by_category), start=1)}
        self._cat_number = {key: n for n, key in self._cat_ids.items()}

    def render(self, path: str, query: dict[str, list[str]]) -> Rendered:
        if path not in ("/", "/index.php"):
            return self._not_found()
        arg = {k: v[0] for k, v in query.items() if v}
        page = arg.get("page", "home")
        if page == "home":
            return self._ok("Front page", self._home())
        if page == "cat" and arg.get("c") in self._cat_ids:
            return self._category(self._cat_ids[arg["c"]], to_int(arg.get("p", "1")))
        if page == "listing" and arg.get("id") in self._by_id:
            item = self._by_id[arg["id"]]
            return self._ok(item.title, self._listing(item))
        if page == "vendor" and arg.get("name") in self._vendors:
            return self._ok(f"Vendor {arg['name']}", self._vendor(self._vendors[arg["name"]]))
        return self._not_found()

    # -- pages ------------------------------------------------------------------------------------

    def _home(self) -> str:
        newest = sorted(self.catalogue.listings, key=lambda i: int(i.listing_id), reverse=True)[:5]
        rows = "".join(f"<tr><td>{self._item_link(i)}</td><td>{self._price(i)}</td></tr>" for i in newest)
        return (
            '<div class="news"><h2>News</h2><p><b>2026-11-20:</b> Withdrawals are back to normal. '
            "Always verify our PGP-signed mirror list.</p></div>"
            f'<h3>Newest listings</h3><table class="newest" border="1" cellpadding="3">{rows}</table>'
        )

    def _category(self, key: str, page: int) -> Rendered:
        pages = self.pages(key)
        if not 1 <= page <= pages:
            return self._not_found()
        items = self._by_category[key]
        number = self._cat_number[key]
        rows = "".join(
            f'<tr class="row{n % 2}"><td class="item">{self._item_link(i)}</td>'
            f'<td class="vendor">{self._vendor_link(i.vendor)}</td>'
            f'<td>{escape(i.ships_from)}</td><td class="price">{self._price(i)}</td></tr>'
            for n, i in enumerate(self.page_items(key, page))
        )
        links = " ".join(
            f'<b class="current">{n}</b>'
            if n == page
            else f'<a href="index.php?page=cat&amp;c={number}&amp;p={n}">{n}</a>'
            for n in range(1, pages + 1)
        )
        category = escape(items[0].category)
        body = f"""
<h2>{category} <small>({len(items)} listings)</small></h2>
<table class="listings" width="100%" cellspacing="0">
<thead><tr><th>Item</th><th>Vendor</th><th>Ships from</th><th>Price</th></tr></thead>
<tbody>{rows}</tbody></table>
<div class="pages">Pages: {links}</div>"""
        return self._ok(items[0].category, body)

    def _listing(self, item: ListingTruth) -> str:
        vendor = self._vendors[item.vendor]
        offers = "".join(
            f"<tr><td>{fmt_qty(t)}</td><td>{self._amount(item, t.usd)}</td>"
            f'<td><form method="post" action="index.php?page=order"><input type="hidden" name="id" '
            f'value="{item.listing_id}"><input type="hidden" name="offer" value="{n}">'
            '<input type="submit" value="Order"></form></td></tr>'
            for n, t in enumerate(item.tiers)
        )
        stock = "unlimited" if item.stock is None else f"{item.stock} left"
        description = "<br>\n".join(escape(line) for line in item.description.split("\n"))
        return f"""
<div class="breadcrumb"><a href="index.php">Home</a> &raquo;
  <a href="index.php?page=cat&amp;c={self._cat_number_of(item)}">{escape(item.category)}</a></div>
<table class="listing-box" cellpadding="4" width="100%">
 <tr><td class="thumb" rowspan="2" width="160"><div class="noimg">no image</div></td>
  <td class="listing-main">
   <h2 class="listing-title">{escape(item.title)}</h2>
   <div class="listing-vendor">Vendor: {self._vendor_link(vendor.handle)} (level {_level(vendor)})</div>
   <div class="listing-rating">{vendor.sales} sales &middot; rating {vendor.rating} / 5</div>
  </td></tr>
 <tr><td>
   <div class="listing-price">Price: {self._price(item)}</div>
   <dl class="listing-info">
    <dt>Listing #</dt><dd class="listing-id">{item.listing_id}</dd>
    <dt>Category</dt><dd>{escape(item.category)}</dd>
    <dt>Ships from</dt><dd>{escape(item.ships_from)}</dd>
    <dt>Ships to</dt><dd>{escape(", ".join(item.ships_to))}</dd>
    <dt>Stock</dt><dd>{stock}</dd>
   </dl>
 </td></tr>
</table>
<h3>Offers</h3>
<table class="offers" border="1" cellpadding="3">
 <tr><th>Quantity</th><th>Price</th><th></th></tr>{offers}</table>
<h3>Description</h3>
<div class="listing-desc">{description}</div>"""

    def _vendor(self, vendor: VendorTruth) -> str:
        rows = "".join(
            f"<tr><td>{self._item_link(i)}</td><td>{self._price(i)}</td></tr>"
            for i in self.vendor_items(vendor.handle)
        )
        wallets = "".join(
            f"<tr><td>{CHAIN_LABELS[chain]} address</td><td>{address}</td></tr>\n"
            for chain, address in vendor.wallets
        )
        # PHP's nl2br(): every line of the key ends in <br>, as old markets print profile text.
        pgp = (
            '<h3>PGP key</h3><div class="vendor-pgp">'
            + "<br>\n".join(escape(line) for line in vendor.pgp_key.split("\n"))
            + "</div>"
            if vendor.pgp_key
            else ""
        )
        return f"""
<h2 class="vendor-title">Vendor profile: {escape(vendor.handle)}</h2>
<table class="vendor-info" cellpadding="3">
 <tr><td>Level</td><td>{_level(vendor)}</td></tr>
 <tr><td>Sales</td><td>{vendor.sales}</td></tr>
 <tr><td>Rating</td><td>{vendor.rating} / 5</td></tr>
 <tr><td>Location</td><td>{escape(vendor.ships_from)}</td></tr>
 <tr><td>Member since</td><td>{vendor.joined}</td></tr>
{wallets}</table>
{pgp}
<h3>Listings</h3><table class="vendor-listings" border="1">{rows}</table>"""

    # -- pieces -----------------------------------------------------------------------------------

    def _cat_number_of(self, item: ListingTruth) -> str:
        return self._cat_number[slug(item.category)]

    @staticmethod
    def _item_link(item: ListingTruth) -> str:
        return f'<a href="index.php?page=listing&amp;id={item.listing_id}">{escape(item.title)}</a>'

    @staticmethod
    def _vendor_link(handle: str) -> str:
        return f'<a href="index.php?page=vendor&amp;name={quote(handle)}">{escape(handle)}</a>'

    def _price(self, item: ListingTruth) -> str:
        return self._amount(item, item.price_usd)

    def _amount(self, item: ListingTruth, usd: Decimal) -> str:
        amount = self.shown(item, usd)
        if item.currency == "EUR":
            return f"<b>{euro(format(amount, 'f'))}</b>"
        # Coin-priced listings carry their dollar value as a hint: buyers think in fiat.
        return f'<b>{format(amount, "f")} BTC</b> <span class="approx">(&asymp; ${usd})</span>'

    def _not_found(self) -> Rendered:
        return Rendered(HTTPStatus.NOT_FOUND, self._layout("Page not found", _NOT_FOUND))

    def _ok(self, title: str, content: str) -> Rendered:
        return Rendered(HTTPStatus.OK, self._layout(title, content))

    def _layout(self, title: str, content: str) -> str:
        menu = "".join(
            f'<li><a href="index.php?page=cat&amp;c={n}">{escape(self._by_category[key][0].category)}</a> '
            f"({len(self._by_category[key])})</li>"
            for n, key in self._cat_ids.items()
        )
        rates = f"BTC/USD {BTC_USD} &nbsp; BTC/EUR {(BTC_USD / EUR_USD).quantize(BTC_USD)}"
        return f"""<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN">
<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">
<title>{escape(title)} :: The Bazaar</title></head>
<body bgcolor="#f4f1e8">
<table class="top" width="100%"><tr><td><a href="index.php"><b>THE BAZAAR</b></a></td>
 <td align="right">Logged in as <b>guest</b> | <a href="index.php?page=orders">Orders (0)</a> |
 <a href="index.php?page=messages">Messages (0)</a> | {rates}</td></tr></table>
<table class="frame" width="100%"><tr>
 <td class="menu" valign="top" width="200"><b>Categories</b><ul>{menu}</ul></td>
 <td id="content" valign="top">{content}</td>
</tr></table>
<div class="foot">The Bazaar &middot; est. 2019 &middot; multisig escrow &middot; no FE</div>
</body></html>"""


def _level(vendor: VendorTruth) -> int:
    # Levels grow with sales, capped like real markets cap trust levels.
    return 1 + min(vendor.sales // 500, 9)
