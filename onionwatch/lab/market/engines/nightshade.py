"""Nightshade: a classic two-column market with path URLs (``/c/<slug>?page=N``, ``/item/<id>``,
``/u/<handle>``), paged result cards, a detail table and a tier list; prices in USD."""

from __future__ import annotations

import math
from html import escape
from http import HTTPStatus

from onionwatch.lab.market.catalogue import BTC_USD, XMR_USD, ListingTruth, PriceTier
from onionwatch.lab.market.engines.base import CHAIN_LABELS, MarketEngine, Rendered
from onionwatch.lab.market.engines.base import crypto as _crypto
from onionwatch.lab.market.engines.base import to_int as _int


class NightshadeEngine(MarketEngine):
    """A classic two-column market: categories, paged result cards, detail table, tier list."""

    name = "nightshade"

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
        wallets = "".join(
            f'<li data-chain="{chain}"><span class="chain">{CHAIN_LABELS[chain]}</span> '
            f"<code>{address}</code></li>"
            for chain, address in vendor.wallets
        )
        # Classic markets show the key in a read-only textarea, so that it copies with its line breaks.
        pgp = (
            f'<h2>PGP public key</h2><textarea class="pgp" readonly rows="14" cols="66">'
            f"{escape(vendor.pgp_key)}</textarea>"
            if vendor.pgp_key
            else '<p class="no-pgp">This vendor has not published a PGP key.</p>'
        )
        return f"""
<div class="vendor-profile"><img class="avatar" src="/avatars/{escape(handle)}.png" alt="avatar" width="64">
  <h1 class="vendor-name">{escape(handle)}</h1>
  <p>Ships from {escape(vendor.ships_from)} &middot; {vendor.sales} sales &middot; rating {vendor.rating}/5
  &middot; member since {vendor.joined}</p>
  <h2>Payment addresses</h2>
  <p>For direct deals only. Always verify an address against my signed message.</p>
  <ul class="wallets">{wallets}</ul>
  {pgp}
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
