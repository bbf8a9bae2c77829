"""What every simulated market engine shares: the rendered page, catalogue indexes and formatting.

An engine is one HTML layout and URL scheme over a seeded catalogue. Engines differ in what a crawler
has to learn (markup, URLs, currencies); they share how the catalogue is indexed, so a category or
vendor means the same listings whichever engine shows it.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import ClassVar

from onionwatch.lab.market.catalogue import Catalogue, ListingTruth, PriceTier, VendorTruth, shown_amount


@dataclass(frozen=True)
class Rendered:
    status: HTTPStatus
    body: str


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def crypto(usd: Decimal, rate: Decimal, places: str) -> Decimal:
    return (usd / rate).quantize(Decimal(places))


def fmt_qty(tier: PriceTier) -> str:
    quantity = format(tier.quantity.normalize(), "f")
    return f"{quantity}g" if tier.unit == "g" else f"{quantity} pcs"


#: how markets label a wallet of each chain on a profile page
CHAIN_LABELS = {"bitcoin": "BTC", "monero": "XMR", "ethereum": "ETH (USDT-ERC20)", "litecoin": "LTC"}


def to_int(text: str) -> int:
    """A page number from a query string; garbage is 0 (out of range, so a 404)."""
    try:
        return int(text)
    except ValueError:
        return 0


class MarketEngine(ABC):
    """Indexes a catalogue once; subclasses render its pages for one path and query."""

    #: what the server answers to; one word, also the page-object engine name on the crawler side
    name: ClassVar[str]
    #: currencies this market's vendors price listings in (passed to ``catalogue.generate``)
    currencies: ClassVar[tuple[str, ...]] = ("USD",)
    page_size: ClassVar[int] = 8

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._by_id = catalogue.by_id()
        self._by_category: dict[str, list[ListingTruth]] = {}
        for item in catalogue.listings:
            self._by_category.setdefault(slug(item.category), []).append(item)
        self._vendors: dict[str, VendorTruth] = {v.handle: v for v in catalogue.vendors}

    @abstractmethod
    def render(self, path: str, query: dict[str, list[str]]) -> Rendered: ...

    def pages(self, key: str) -> int:
        """How many pages category ``key`` spans."""
        return max(1, math.ceil(len(self._by_category[key]) / self.page_size))

    def page_items(self, key: str, page: int) -> list[ListingTruth]:
        return self._by_category[key][(page - 1) * self.page_size : page * self.page_size]

    def vendor_items(self, handle: str) -> list[ListingTruth]:
        return [i for i in self.catalogue.listings if i.vendor == handle]

    @staticmethod
    def shown(item: ListingTruth, usd: Decimal | None = None) -> Decimal:
        """An amount of ``item`` (default: its headline price) in the listing's own currency."""
        return shown_amount(item.price_usd if usd is None else usd, item.currency)
