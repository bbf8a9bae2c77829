"""The one Scrapy add-on that wires onionwatch's components into a crawler's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scrapy.settings import Settings

TOR_HANDLER = "onionwatch.crawler.tor.TorDownloadHandler"


class OnionwatchAddon:
    def update_settings(self, settings: Settings) -> None:
        # Every HTTP(S) request goes through Tor; there is no other handler to fall back to.
        settings.set("DOWNLOAD_HANDLERS", {"http": TOR_HANDLER, "https": TOR_HANDLER}, "addon")
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        # HttpProxyMiddleware would honour http_proxy env vars and meta["proxy"]: not a route we take.
        middlewares["scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware"] = None
        middlewares["onionwatch.crawler.middlewares.TextOnlyMiddleware"] = 50
        # First thing a request meets: a denylisted address is never asked for, not even once.
        middlewares["onionwatch.crawler.middlewares.DenylistMiddleware"] = 10
        middlewares["onionwatch.crawler.middlewares.BackoffMiddleware"] = 45
        # Responses pass middlewares in decreasing order: archive after decompression and the
        # text-only check, so the archive holds exactly what the parsers see.
        middlewares["onionwatch.crawler.archive.ArchiveMiddleware"] = 40
        # Above mirrors and retries for exceptions: a Tor outage is neither a dead mirror nor worth retries.
        middlewares["onionwatch.crawler.outage.TorOutageMiddleware"] = 570
        # Above RetryMiddleware (550): a dead mirror fails over at once instead of being retried.
        middlewares["onionwatch.crawler.mirrors.MirrorFailoverMiddleware"] = 560
        # Page state before parsing: above MetaRefresh (580), so a DDoS queue's refresh is waited
        # for; below Redirect (600) and Cookies (700), so it sees where a login redirect led.
        middlewares["onionwatch.crawler.access.AccessControlMiddleware"] = 585
        # The market's cookie jar, kept between crawls (<data dir>/sessions/<market>.json).
        middlewares["scrapy.downloadermiddlewares.cookies.CookiesMiddleware"] = None
        middlewares["onionwatch.crawler.sessions.PersistentCookiesMiddleware"] = 700
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, "addon")
        pipelines = settings.getdict("ITEM_PIPELINES")
        pipelines.setdefault("onionwatch.crawler.pipelines.EnrichPipeline", 300)
        pipelines.setdefault("onionwatch.crawler.pipelines.StorePipeline", 800)
        settings.set("ITEM_PIPELINES", pipelines, "addon")
        settings.set("ROBOTSTXT_OBEY", False, "addon")  # markets have none; the request would be noise
        settings.set("TELNETCONSOLE_ENABLED", False, "addon")
        # Politeness: AutoThrottle follows each market's latency from the configured delay up,
        # never below it; the per-market concurrency caps it.
        settings.set("AUTOTHROTTLE_ENABLED", True, "addon")
        settings.set("AUTOTHROTTLE_MAX_DELAY", 60.0, "addon")
