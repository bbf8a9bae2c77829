"""The raw-response archive: every fetched page in WARC, so parsing can be redone without the network.

Fetch and parse are separate (DESIGN decision 6): after a parser or lexicon change, ``onionwatch
reparse`` rebuilds listings from here. Each record carries the market, the mirror host, the Tor
isolation key, the fetch time and the payload's sha256. Secrets never enter the archive: request
records (with their cookies) are not written, and of the response headers only Content-Type is kept.

Writing happens on one worker thread (gzip + disk I/O stay off the reactor); ``close`` drains it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from onionwatch.models import sha256_hex, utcnow

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

FETCHED_AT_META_KEY = "fetched_at"
H_MARKET = "Onionwatch-Market"
H_ENGINE = "Onionwatch-Engine"
H_MIRROR = "Onionwatch-Mirror"
H_ISOLATION = "Onionwatch-Isolation"
H_CRAWL = "Onionwatch-Crawl-Id"
H_SHA256 = "Onionwatch-Payload-Sha256"


@dataclass(frozen=True)
class ArchivedPage:
    url: str
    status: int
    content_type: str | None
    body: bytes
    market: str
    engine: str | None
    mirror: str
    isolation: str | None
    crawl_id: str | None
    fetched_at: datetime
    sha256: str


class ArchiveWriter:
    """Appends response records to ``<directory>/<market>/<crawl id>.warc.gz`` from a worker thread."""

    def __init__(self, directory: Path, crawl_id: str) -> None:
        self.directory = directory
        self.crawl_id = crawl_id
        self._queue: queue.Queue[ArchivedPage | None] = queue.Queue(maxsize=1000)
        self._files: dict[str, Any] = {}
        self._writers: dict[str, WARCWriter] = {}
        self._thread = threading.Thread(target=self._run, name="onionwatch-archive", daemon=True)
        self._thread.start()
        self.written = 0

    def put(self, page: ArchivedPage) -> None:
        self._queue.put(page)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        for handle in self._files.values():
            handle.close()

    def _writer(self, market: str) -> WARCWriter:
        if market not in self._writers:
            path = self.directory / market / f"{self.crawl_id}.warc.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = path.open("ab")
            self._files[market] = handle
            self._writers[market] = WARCWriter(handle, gzip=True, warc_version="1.1")
        return self._writers[market]

    def _run(self) -> None:
        while (page := self._queue.get()) is not None:
            try:
                self._write(page)
                self.written += 1
            except OSError:
                # Losing the archive copy must not lose the crawl; the page is still parsed.
                logger.exception("cannot archive %s", page.url)

    def _write(self, page: ArchivedPage) -> None:
        writer = self._writer(page.market)
        headers = [("Content-Type", page.content_type)] if page.content_type else []
        http_headers = StatusAndHeaders(f"{page.status} OK", headers, protocol="HTTP/1.1")
        warc_headers = {
            "WARC-Date": page.fetched_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            H_MARKET: page.market,
            H_MIRROR: page.mirror,
            H_SHA256: page.sha256,
        }
        for key, value in ((H_ENGINE, page.engine), (H_ISOLATION, page.isolation), (H_CRAWL, page.crawl_id)):
            if value:
                warc_headers[key] = value
        record = writer.create_warc_record(
            page.url,
            "response",
            payload=BytesIO(page.body),
            length=len(page.body),  # known length: warcio then needs no (leaky) temp buffer
            http_headers=http_headers,
            warc_headers_dict=warc_headers,
        )
        writer.write_record(record)
        self._files[page.market].flush()


class ArchiveMiddleware:
    """Downloader middleware: stamps the fetch time on each response and archives it."""

    def __init__(self, writer: ArchiveWriter) -> None:
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveMiddleware:
        from scrapy import signals
        from scrapy.exceptions import NotConfigured

        directory = crawler.settings.get("ONIONWATCH_ARCHIVE_DIR")
        if not directory:
            raise NotConfigured("no ONIONWATCH_ARCHIVE_DIR: pages are not archived")
        writer = ArchiveWriter(Path(directory), crawler.settings.get("ONIONWATCH_CRAWL_ID") or "adhoc")
        middleware = cls(writer)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        fetched_at = utcnow()
        request.meta[FETCHED_AT_META_KEY] = fetched_at
        if request.meta.get("allow_binary"):
            return response  # the captcha image: shown to the operator, not kept in the archive
        content_type = response.headers.get(b"Content-Type")
        self.writer.put(
            ArchivedPage(
                url=response.url,
                status=response.status,
                content_type=content_type.decode("latin-1") if content_type else None,
                body=response.body,
                market=str(request.meta.get("market", "unknown")),
                engine=request.meta.get("engine"),
                mirror=urlsplit(response.url).hostname or "",
                isolation=request.meta.get("tor_isolation"),
                crawl_id=self.writer.crawl_id,
                fetched_at=fetched_at,
                sha256=sha256_hex(response.body),
            )
        )
        return response

    def spider_closed(self) -> None:
        self.writer.close()


def read_archive(path: Path) -> Iterator[ArchivedPage]:
    """Every response record of one WARC file, in order. Damaged payloads are reported, not trusted."""
    with path.open("rb") as handle:
        for record in ArchiveIterator(handle):
            if record.rec_type != "response":
                continue
            body = record.content_stream().read()
            headers = record.rec_headers
            expected = headers.get_header(H_SHA256)
            if expected and expected != sha256_hex(body):
                logger.warning(
                    "skipping %s in %s: payload sha256 mismatch", headers.get_header("WARC-Target-URI"), path
                )
                continue
            http = record.http_headers
            yield ArchivedPage(
                url=headers.get_header("WARC-Target-URI"),
                status=int(http.get_statuscode()) if http else 200,
                content_type=http.get_header("Content-Type") if http else None,
                body=body,
                market=headers.get_header(H_MARKET) or "unknown",
                engine=headers.get_header(H_ENGINE),
                mirror=headers.get_header(H_MIRROR) or "",
                isolation=headers.get_header(H_ISOLATION),
                crawl_id=headers.get_header(H_CRAWL),
                fetched_at=datetime.fromisoformat(headers.get_header("WARC-Date").replace("Z", "+00:00")),
                sha256=sha256_hex(body),
            )


def archive_files(directory: Path, market: str | None = None) -> list[Path]:
    pattern = f"{market}/*.warc.gz" if market else "*/*.warc.gz"
    return sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime)
