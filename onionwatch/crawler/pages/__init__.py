"""Page objects: one response in, one model out, no network access (usable without Scrapy)."""
