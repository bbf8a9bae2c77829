"""Kraken: a modern "card" market with slug URLs (``/category/<slug>/page/<n>``,
``/listing/<title-slug>-<id>``, ``/shop/<vendor>``), data attributes on every card, size tiers in a
``<select>`` ("5g — $180.00"), USD prices with a Monero hint, and vendor text shown as the vendor typed
it (markdown-ish, not rendered)."""

from __future__ import annotations

from html import escape
from http import HTTPStatus
from typing import ClassVar
from urllib.parse import quote

from onionwatch.lab.market.catalogue import XMR_USD, ListingTruth, VendorTruth
from onionwatch.lab.market.engines.base import (
    CHAIN_LABELS,
    MarketEngine,
    Rendered,
    crypto,
    fmt_qty,
    slug,
    to_int,
)

_NOT_FOUND = (
    '<section class="error" data-status="404"><h1>Lost at sea</h1>'
    "<p>That listing sank, or never existed. Try the categories above.</p></section>"
)


def listing_path(item: ListingTruth) -> str:
    return f"/listing/{slug(item.title)}-{item.listing_id}"


def markdownish(description: str) -> str:
    """The catalogue's description as a vendor would type it into a markdown box."""
    lines = []
    for line in description.split("\n"):
        if line.startswith("Prices: "):
            lines.append("**Prices**")
            lines.extend(f"- {tier}" for tier in line.removeprefix("Prices: ").split(" / "))
        elif line.startswith("Shipping from "):
            lines.append(f"_{line}_")
        else:
            lines.append(line)
    return "\n".join(lines)


class KrakenEngine(MarketEngine):
    name = "kraken"
    currencies: ClassVar[tuple[str, ...]] = ("USD",)
    page_size: ClassVar[int] = 9

    def render(self, path: str, query: dict[str, list[str]]) -> Rendered:
        parts = [p for p in path.split("/") if p]
        if not parts:
            return self._ok("Kraken", "", self._home())
        if parts[0] == "category" and len(parts) in (2, 4) and parts[1] in self._by_category:
            if len(parts) == 2:
                return self._category(parts[1], 1)
            if parts[2] == "page":
                return self._category(parts[1], to_int(parts[3]))
        if parts[0] == "listing" and len(parts) == 2:
            # The slug is decoration: the trailing id names the listing (titles change, ids do not).
            listing_id = parts[1].rsplit("-", 1)[-1]
            if listing_id in self._by_id:
                item = self._by_id[listing_id]
                return self._ok(item.title, listing_path(item), self._listing(item))
        if parts[0] == "shop" and len(parts) == 2 and parts[1] in self._vendors:
            vendor = self._vendors[parts[1]]
            return self._ok(f"{vendor.handle}'s shop", f"/shop/{quote(vendor.handle)}", self._shop(vendor))
        return Rendered(HTTPStatus.NOT_FOUND, self._layout("Not found", "", _NOT_FOUND))

    # -- pages ------------------------------------------------------------------------------------

    def _home(self) -> str:
        chips = "".join(
            f'<a class="chip" href="/category/{key}">{escape(items[0].category)} '
            f'<span class="chip__count">{len(items)}</span></a>'
            for key, items in sorted(self._by_category.items())
        )
        featured = sorted(self.catalogue.listings, key=lambda i: i.price_usd)[:3]
        return f"""
<section class="hero"><h1>Deep water, safe trades.</h1>
  <p>Escrow on every order &middot; PGP 2FA &middot; XMR only checkout</p></section>
<nav class="chips" aria-label="Categories">{chips}</nav>
<section class="featured"><h2>Fresh catch</h2>
  <div class="strip">{"".join(self._card(i) for i in featured)}</div></section>"""

    def _category(self, key: str, page: int) -> Rendered:
        pages = self.pages(key)
        if not 1 <= page <= pages:
            return Rendered(HTTPStatus.NOT_FOUND, self._layout("Not found", "", _NOT_FOUND))
        items = self._by_category[key]
        cards = "".join(self._card(i) for i in self.page_items(key, page))
        pager = []
        if page > 1:
            prev = f"/category/{key}" if page == 2 else f"/category/{key}/page/{page - 1}"
            pager.append(f'<a class="pager__prev" rel="prev" href="{prev}">&larr; Newer</a>')
        pager.append(f'<span class="pager__pos">{page} / {pages}</span>')
        if page < pages:
            pager.append(
                f'<a class="pager__next" rel="next" href="/category/{key}/page/{page + 1}">Older &rarr;</a>'
            )
        name = escape(items[0].category)
        canonical = f"/category/{key}" + (f"/page/{page}" if page > 1 else "")
        body = f"""
<header class="section-head"><h1>{name}</h1><p>{len(items)} listings</p></header>
<section class="grid" data-category="{key}" data-page="{page}" data-pages="{pages}">{cards}</section>
<nav class="pager">{" ".join(pager)}</nav>"""
        return self._ok(items[0].category, canonical, body)

    def _listing(self, item: ListingTruth) -> str:
        vendor = self._vendors[item.vendor]
        usd = item.price_usd
        options = "".join(
            f'<option value="{n}" data-usd="{t.usd}">{fmt_qty(t)} &mdash; ${t.usd}</option>'
            for n, t in enumerate(item.tiers)
        )
        facts = [
            ("origin", "Ships from", item.ships_from),
            ("destinations", "Ships to", ", ".join(item.ships_to)),
            ("category", "Category", item.category),
        ]
        if item.stock is not None:  # unlimited stock: the market simply shows no counter
            facts.append(("stock", "In stock", str(item.stock)))
        fact_items = "".join(
            f'<li data-fact="{key}"><span class="facts__k">{label}</span> '
            f'<span class="facts__v">{escape(value)}</span></li>'
            for key, label, value in facts
        )
        key = slug(item.category)
        since = vendor.joined[:7]
        text = escape(markdownish(item.description))
        return f"""
<article class="listing" data-listing-id="{item.listing_id}" data-category="{key}">
  <nav class="crumbs"><a href="/">Market</a> /
    <a href="/category/{key}">{escape(item.category)}</a></nav>
  <header class="listing__header"><h1 class="listing__title">{escape(item.title)}</h1>
    <span class="badge badge--escrow">Escrow</span></header>
  <div class="listing__cols">
  <section class="listing__buy">
    <div class="price" data-amount="{usd}" data-currency="USD">
      <span class="price__fiat">${usd}</span>
      <span class="price__crypto">&asymp; {crypto(usd, XMR_USD, "0.0001")} XMR</span></div>
    <form class="buy" method="post" action="/cart">
      <input type="hidden" name="listing" value="{item.listing_id}">
      <label for="tier">Size</label>
      <select id="tier" name="tier">{options}</select>
      <button type="submit">Add to cart</button></form>
    <ul class="facts">{fact_items}</ul>
  </section>
  <aside class="seller" data-vendor="{escape(vendor.handle)}">
    <div class="seller__label">Sold by</div>
    <a class="seller__name" href="/shop/{quote(vendor.handle)}">{escape(vendor.handle)}</a>
    <div class="seller__stats">&#9733; {vendor.rating} &middot; {vendor.sales} sales
      &middot; since {since}</div>
  </aside>
  </div>
  <section class="listing__body"><h2>About this listing</h2>
    <div class="md" data-format="markdown" style="white-space: pre-wrap">{text}</div>
  </section>
</article>"""

    def _shop(self, vendor: VendorTruth) -> str:
        cards = "".join(self._card(i) for i in self.vendor_items(vendor.handle))
        wallets = "".join(
            f'<dt>{CHAIN_LABELS[chain]}</dt><dd><code class="addr">{address}</code></dd>'
            for chain, address in vendor.wallets
        )
        pgp = f'\n  <pre class="pgp-key">{escape(vendor.pgp_key)}</pre>' if vendor.pgp_key else ""
        return f"""
<header class="shop-head" data-vendor="{escape(vendor.handle)}"><h1>{escape(vendor.handle)}</h1>
  <p>&#9733; {vendor.rating} &middot; {vendor.sales} sales &middot; ships from {escape(vendor.ships_from)}
  &middot; since {vendor.joined}</p></header>
<section class="shop-trust"><h2>Verify me</h2>
  <dl class="wallets">{wallets}</dl>{pgp}</section>
<section class="grid" data-shop="{escape(vendor.handle)}">{cards}</section>"""

    # -- pieces -----------------------------------------------------------------------------------

    @staticmethod
    def _card(item: ListingTruth) -> str:
        usd, vendor = item.price_usd, escape(item.vendor)
        xmr = crypto(usd, XMR_USD, "0.0001")
        return f"""
<article class="card" data-listing-id="{item.listing_id}" data-vendor="{vendor}" data-price-usd="{usd}">
  <a class="card__link" href="{listing_path(item)}"><h3 class="card__title">{escape(item.title)}</h3></a>
  <div class="card__meta"><a href="/shop/{quote(item.vendor)}">{vendor}</a>
    &middot; {escape(item.ships_from)}</div>
  <div class="card__price">${usd} <small>&asymp; {xmr} XMR</small></div>
</article>"""

    def _ok(self, title: str, canonical: str, content: str) -> Rendered:
        return Rendered(HTTPStatus.OK, self._layout(title, canonical, content))

    def _layout(self, title: str, canonical: str, content: str) -> str:
        nav = "".join(
            f'<a href="/category/{key}">{escape(items[0].category)}</a>'
            for key, items in sorted(self._by_category.items())
        )
        head_title = "Kraken Market" if title == "Kraken" else f"{escape(title)} · Kraken"
        link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{head_title}</title>{link}
<style>.grid{{display:grid;grid-template-columns:repeat(3,1fr);gap:1rem}}.card{{border-radius:8px}}</style>
</head><body class="theme-dark">
<header class="topbar"><a class="brand" href="/">&#128025; Kraken</a>
  <nav class="topnav">{nav}</nav>
  <div class="ticker" data-xmr-usd="{XMR_USD}">XMR ${XMR_USD}</div></header>
<main class="container">{content}</main>
<footer class="footer"><span>Kraken &copy; 2024&ndash;2026</span> <a href="/canary">Canary</a></footer>
</body></html>"""
