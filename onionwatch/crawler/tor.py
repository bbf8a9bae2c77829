"""The Tor download handler: every request goes through Tor's SOCKS port, or it fails.

Scrapy's default HTTP handler cannot speak SOCKS, and ``socks5h://`` in ``meta["proxy"]`` is silently
useless there; Privoxy is an extra hop we do not want. This handler reuses Scrapy's httpx handler
(streaming, size caps, data-loss handling) and replaces its proxy choice: the proxy is always Tor,
hostnames are sent to Tor unresolved (socks5h: ``.onion`` names cannot be resolved locally, and
clearnet names must not leak to a local resolver), and a request's ``meta["proxy"]`` is never used.

Isolation: Tor gives each distinct SOCKS username:password its own circuits (``IsolateSOCKSAuth``,
on by default). The username is the request's isolation key (``meta["tor_isolation"]``, else the
host), the password a per-process session token, so one market session keeps its circuits for the
whole crawl and markets never share one. Fail closed: when Tor is not configured the handler is
not installed at all and Scrapy refuses the scheme; when Tor is down the request errors out.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from scrapy.core.downloader.handlers._httpx import HttpxDownloadHandler
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ISOLATION_META_KEY = "tor_isolation"


def parse_socks_address(value: str) -> tuple[str, int]:
    """``"127.0.0.1:9050"`` -> ``("127.0.0.1", 9050)``; clear error for anything else."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"Tor SOCKS address must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def isolation_key(request: Request) -> str:
    key = request.meta.get(ISOLATION_META_KEY)
    if key:
        return str(key)
    return urlsplit(request.url).hostname or "default"


class TorDownloadHandler(HttpxDownloadHandler):
    """HTTP(S) handler that only ever connects to Tor's SOCKS port."""

    # The parent warns that it is experimental on every crawl; we pin the Scrapy minor version
    # and test this handler end to end through a real Tor network instead.
    experimental = False

    def __init__(self, crawler: Crawler) -> None:
        address = crawler.settings.get("ONIONWATCH_TOR_SOCKS")
        if not address:
            raise NotConfigured("ONIONWATCH_TOR_SOCKS is not set: refusing to fetch anything outside Tor")
        try:
            self.socks_host, self.socks_port = parse_socks_address(str(address))
        except ValueError as exc:
            raise NotConfigured(str(exc)) from exc
        self.session_token: str = crawler.settings.get("ONIONWATCH_TOR_SESSION") or secrets.token_hex(8)
        super().__init__(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TorDownloadHandler:
        return cls(crawler)

    def proxy_url(self, key: str) -> str:
        user = quote(key, safe="")
        return f"socks5h://{user}:{self.session_token}@{self.socks_host}:{self.socks_port}"

    def _extract_proxy_url_with_creds(self, request: Request) -> str | None:
        if request.meta.get("proxy"):
            # Another component asked for a different route; Tor is the only route we take.
            logger.warning("ignoring meta['proxy'] for %s: requests go through Tor only", request.url)
        return self.proxy_url(isolation_key(request))
