"""Market engines: how a simulated market lays out its pages and URLs.

Each engine is a different HTML layout and URL scheme over the same kind of catalogue, so that
per-market page objects and the generic extractor are both exercised. The HTML is our own,
modelled on the structure of real market pages (detail tables, vendor blocks, tier lists).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from http import HTTPStatus
from typing import Protocol

from onionwatch.lab.market.catalogue import BTC_USD, XMR_USD, Catalogue, ListingTruth, PriceTier


@dataclass(frozen=True)
class Rendered:
    status: HTTPStatus
    body: str


class Engine(Protocol):
    def render(self, path: str, query: dict[str, list[str]]) -> Rendered: ...


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _crypto(usd: Decimal, rate: Decimal, places: str) -> Decimal:
    return (usd / rate).quantize(Decimal(places))


class NightshadeEngine:
    """A classic two-column market: categories, paged result cards, detail table, tier list."""

    page_size = 8

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._by_id = catalogue.by_id()
        self._by_category: dict[str, list[ListingTruth]] = {}
        for item in catalogue.listings:
            self._by_category.setdefault(slug(item.category), []).append(item)
        self._vendors = {v.handle: v for v in catalogue.vendors}

    def render(self, path: str, query: dict[str, list[str]]) -> Rendered:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return self._ok("Home", self._home())
        if len(parts) == 2 and parts[0] == "c" and parts[1] in self._by_category:
            page = _int(query.get("page", ["1"])[0])
            return self._category(parts[1], page)
        if len(parts) == 2 and parts[0] == "item" and parts[1] in self._by_id:
            item = self._by_id[parts[1]]
            return self._ok(item.title, self._listing(item))
        if len(parts) == 2 and parts[0] == "u" and parts[1] in self._vendors:
            return self._ok(parts[1], self._vendor(parts[1]))
        return Rendered(
            HTTPStatus.NOT_FOUND,
            self._layout("Not found", "<h1>404 - Page not found</h1><p>This item does not exist.</p>"),
        )

    # -- pages ------------------------------------------------------------------------------------

    def _home(self) -> str:
        rows = "".join(
            f'<li><a href="/c/{escape(key)}">{escape(items[0].category)}</a> <span class="count">'
            f"({len(items)})</span></li>"
            for key, items in sorted(self._by_category.items())
        )
        return f'<h1>Welcome to Nightshade</h1><ul class="categories">{rows}</ul>'

    def _category(self, key: str, page: int) -> Rendered:
        items = self._by_category[key]
        pages = max(1, math.ceil(len(items) / self.page_size))
        if not 1 <= page <= pages:
            return Rendered(HTTPStatus.NOT_FOUND, self._layout("Not found", "<h1>404 - Page not found</h1>"))
        shown = items[(page - 1) * self.page_size : page * self.page_size]
        cards = "".join(
            f'<div class="card"><a class="card-title" href="/item/{item.listing_id}">{escape(item.title)}</a>'
            f'<span class="card-vendor">by <a href="/u/{escape(item.vendor)}">'
            f"{escape(item.vendor)}</a></span>"
            f'<span class="card-price">USD {item.price_usd}</span></div>'
            for item in shown
        )
        nav = f'<span class="page">Page {page} of {pages}</span>'
        if page < pages:
            nav += f' <a class="next" href="/c/{key}?page={page + 1}">Next &raquo;</a>'
        title = escape(items[0].category)
        return self._ok(items[0].category, f'<h1>{title}</h1><div class="results">{cards}</div>{nav}')

    def _listing(self, item: ListingTruth) -> str:
        usd = item.price_usd
        vendor = self._vendors[item.vendor]
        tiers = "".join(f"<li>{_tier(t)}</li>" for t in item.tiers)
        stock = "Unlimited" if item.stock is None else str(item.stock)
        description = "".join(f"<p>{escape(p)}</p>" for p in item.description.split("\n") if p.strip())
        return f"""
<div class="product" data-id="{item.listing_id}">
  <h1 class="product-title">{escape(item.title)}</h1>
  <div class="vendor-box">Sold by
    <a class="vendor" href="/u/{escape(vendor.handle)}">{escape(vendor.handle)}</a>
    <span class="sales">({vendor.sales} sales, {vendor.rating}/5)</span></div>
  <table class="details">
    <tr><th>Price</th><td class="price">USD {usd}</td></tr>
    <tr><th>BTC</th><td class="price-btc">{_crypto(usd, BTC_USD, "0.00000001")} BTC</td></tr>
    <tr><th>XMR</th><td class="price-xmr">{_crypto(usd, XMR_USD, "0.0001")} XMR</td></tr>
    <tr><th>Category</th><td class="category">{escape(item.category)}</td></tr>
    <tr><th>Ships from</th><td class="ships-from">{escape(item.ships_from)}</td></tr>
    <tr><th>Ships to</th><td class="ships-to">{escape(", ".join(item.ships_to))}</td></tr>
    <tr><th>Stock</th><td class="stock">{stock}</td></tr>
  </table>
  <h2>Bulk prices</h2><ul class="tiers">{tiers}</ul>
  <h2>Description</h2><div class="description">{description}</div>
  <form method="post" action="/cart/add"><input type="hidden" name="id" value="{item.listing_id}">
    <button type="submit">Buy now</button></form>
</div>"""

    def _vendor(self, handle: str) -> str:
        vendor = self._vendors[handle]
        items = [i for i in self.catalogue.listings if i.vendor == handle]
        rows = "".join(
            f'<tr><td><a href="/item/{i.listing_id}">{escape(i.title)}</a></td>'
            f"<td>USD {i.price_usd}</td></tr>"
            for i in items
        )
        return f"""
<div class="vendor-profile"><h1 class="vendor-name">{escape(handle)}</h1>
  <p>Ships from {escape(vendor.ships_from)} &middot; {vendor.sales} sales &middot; rating {vendor.rating}/5
  &middot; member since {vendor.joined}</p>
  <table class="vendor-listings">{rows}</table></div>"""

    # -- chrome -----------------------------------------------------------------------------------

    def _ok(self, title: str, content: str) -> Rendered:
        return Rendered(HTTPStatus.OK, self._layout(title, content))

    def _layout(self, title: str, content: str) -> str:
        cats = "".join(
            f'<li><a href="/c/{escape(key)}">{escape(items[0].category)}</a></li>'
            for key, items in sorted(self._by_category.items())
        )
        rates = f"1 BTC = {BTC_USD} USD &middot; 1 XMR = {XMR_USD} USD"
        return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{escape(title)} | Nightshade Market</title></head>
<body><header><a href="/">Nightshade Market</a> <span class="rates">{rates}</span></header>
<nav><ul class="sidebar">{cats}</ul></nav><main>{content}</main>
<footer>Nightshade &copy; escrow since 2021</footer></body></html>"""


def _tier(tier: PriceTier) -> str:
    qty = f"{format(tier.quantity.normalize(), 'f')}g" if tier.unit == "g" else f"{tier.quantity} pcs"
    return f'<span class="qty">{qty}</span> = <span class="tier-price">${tier.usd}</span>'


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return 0
