"""What every page object receives: the bytes of one fetched page and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from parsel import Selector
from w3lib.encoding import html_to_unicode

from onionwatch.models import sha256_hex, utcnow


@dataclass(frozen=True)
class Page:
    url: str
    body: bytes
    market: str
    #: the Content-Type header, if any (used to pick the encoding)
    content_type: str | None = None
    crawled_at: datetime = field(default_factory=utcnow)

    @cached_property
    def sha256(self) -> str:
        return sha256_hex(self.body)

    @cached_property
    def text(self) -> str:
        _, text = html_to_unicode(self.content_type, self.body)
        return str(text)

    @cached_property
    def selector(self) -> Selector:
        return Selector(text=self.text)


@dataclass(frozen=True)
class CategoryPage:
    """A result list: the listings it links to and the next page of results, if any."""

    listing_urls: tuple[str, ...]
    next_url: str | None
