"""Scrapy project settings for `scrapy crawl` (see scrapy.cfg); the add-on wires everything else.

``ONIONWATCH_TOR_SOCKS`` has no default on purpose: without it nothing is fetched.
"""

BOT_NAME = "onionwatch"
SPIDER_MODULES = ["onionwatch.crawler.spiders"]
NEWSPIDER_MODULE = "onionwatch.crawler.spiders"
ADDONS = {"onionwatch.crawler.addon.OnionwatchAddon": 0}
DOWNLOAD_MAXSIZE = 5 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
CONCURRENT_REQUESTS = 8
LOG_LEVEL = "INFO"
