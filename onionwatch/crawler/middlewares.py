"""Downloader middlewares: the text-only fetch policy, the hashed URL denylist, and exponential
backoff between retries.

Markets are full of images and binaries that an analyst never needs and that we must not hold
(illegal images, malware). Requests for them are refused before they leave, and a response that
announces a non-text type is cut off at its headers, before its body is read.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from w3lib.url import canonicalize_url

from onionwatch.errors import ConfigError
from onionwatch.models import sha256_hex

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Headers, Response
    from scrapy.statscollectors import StatsCollector

BINARY_EXTENSIONS = frozenset(
    {
        ".jpg",
        ".jpeg",
        ".png",
        ".gif",
        ".webp",
        ".bmp",
        ".ico",
        ".svg",
        ".tif",
        ".tiff",
        ".avif",
        ".mp4",
        ".webm",
        ".avi",
        ".mov",
        ".mp3",
        ".ogg",
        ".wav",
        ".zip",
        ".rar",
        ".7z",
        ".gz",
        ".tgz",
        ".bz2",
        ".xz",
        ".tar",
        ".exe",
        ".msi",
        ".dll",
        ".apk",
        ".jar",
        ".bin",
        ".iso",
        ".dmg",
        ".pdf",
        ".doc",
        ".docx",
        ".xls",
        ".xlsx",
        ".woff",
        ".woff2",
        ".ttf",
        ".otf",
        ".eot",
    }
)
TEXT_TYPES = (
    "text/html",
    "text/plain",
    "application/xhtml+xml",
    "application/json",
    "text/xml",
    "application/xml",
)


def is_text_type(content_type: bytes | str | None) -> bool:
    """No Content-Type counts as text: the body is still size-capped and parsed as HTML."""
    if not content_type:
        return True
    value = content_type.decode("latin-1") if isinstance(content_type, bytes) else content_type
    return value.split(";", 1)[0].strip().lower() in TEXT_TYPES


class TextOnlyMiddleware:
    def __init__(self, stats: StatsCollector, *, allow_meta_key: str = "allow_binary") -> None:
        self.stats = stats
        self.allow_meta_key = allow_meta_key

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TextOnlyMiddleware:
        if not crawler.settings.getbool("ONIONWATCH_TEXT_ONLY", True):
            raise NotConfigured("text-only policy disabled")
        assert crawler.stats is not None
        mw = cls(crawler.stats)
        crawler.signals.connect(mw.headers_received, signal=signals.headers_received)
        return mw

    def process_request(self, request: Request) -> None:
        if request.meta.get(self.allow_meta_key):
            return
        path = urlsplit(request.url).path.lower()
        dot = path.rfind(".")
        if dot != -1 and path[dot:] in BINARY_EXTENSIONS:
            self.stats.inc_value("fetch/refused/binary_url")
            raise IgnoreRequest(f"text-only policy: not fetching {request.url}")

    def headers_received(self, headers: Headers, body_length: int, request: Request, **_: Any) -> None:
        if request.meta.get(self.allow_meta_key):
            return
        if not is_text_type(headers.get(b"Content-Type")):
            self.stats.inc_value("fetch/refused/binary_type")
            raise StopDownload(fail=True)

    def process_response(self, request: Request, response: Response) -> Response:
        if not request.meta.get(self.allow_meta_key) and not is_text_type(
            response.headers.get(b"Content-Type")
        ):
            raise IgnoreRequest(f"text-only policy: {request.url} is not text")
        return response


class BackoffMiddleware:
    """Wait ``base * 2**(n-1)`` seconds (capped) before the n-th retry of a request.

    Scrapy's retry middleware re-sends at once; a struggling market (or a slow onion circuit) gets
    a pause that grows with each failure instead. The wait is an ``asyncio.sleep`` for this request
    only: the reactor and every other request keep going.
    """

    def __init__(self, stats: StatsCollector, *, base: float, cap: float) -> None:
        self.stats = stats
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        base = crawler.settings.getfloat("ONIONWATCH_RETRY_BACKOFF_BASE", 2.0)
        if base <= 0:
            raise NotConfigured("retry backoff disabled")
        assert crawler.stats is not None
        return cls(
            crawler.stats, base=base, cap=crawler.settings.getfloat("ONIONWATCH_RETRY_BACKOFF_CAP", 60.0)
        )

    def delay(self, retries: int) -> float:
        return 0.0 if retries <= 0 else min(self.cap, self.base * 2 ** (retries - 1))

    async def process_request(self, request: Request) -> None:
        wait = self.delay(int(request.meta.get("retry_times", 0)))
        if wait:
            self.stats.inc_value("retry/backoff_waits")
            await asyncio.sleep(wait)


def denylist_hashes(url: str) -> tuple[str, str]:
    """What a denylist entry may match: sha256 of the canonical URL, and of its host alone.

    Entries are hashes so the list itself never holds the addresses it keeps us away from.
    """
    canonical = canonicalize_url(url)
    host = urlsplit(canonical).hostname or ""
    return sha256_hex(canonical.encode()), sha256_hex(host.encode())


def load_denylist(path: Path) -> frozenset[str]:
    """One sha256 (hex) per line; blank lines and ``#`` comments ignored; anything else is an error."""
    entries = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if len(entry) != 64 or any(c not in "0123456789abcdef" for c in entry):
            raise ConfigError(f"{path}:{number}: not a sha256 hex digest")
        entries.add(entry)
    return frozenset(entries)


class DenylistMiddleware:
    """Refuses, before it leaves, any request whose URL or host hashes into the denylist."""

    def __init__(self, stats: StatsCollector, entries: frozenset[str]) -> None:
        self.stats = stats
        self.entries = entries

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DenylistMiddleware:
        path = crawler.settings.get("ONIONWATCH_DENYLIST")
        if not path:
            raise NotConfigured  # no denylist: the usual case, not worth a warning
        assert crawler.stats is not None
        return cls(crawler.stats, load_denylist(Path(path)))

    def process_request(self, request: Request) -> None:
        for digest in denylist_hashes(request.url):
            if digest in self.entries:
                self.stats.inc_value("fetch/refused/denylist")
                # The hash, not the address: logs travel further than the denylist does.
                raise IgnoreRequest(f"denylisted ({digest[:12]}…): not fetched")
