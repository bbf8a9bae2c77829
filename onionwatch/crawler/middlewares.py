"""Downloader middlewares: the text-only fetch policy.

Markets are full of images and binaries that an analyst never needs and that we must not hold
(illegal images, malware). Requests for them are refused before they leave, and a response that
announces a non-text type is cut off at its headers, before its body is read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload

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
