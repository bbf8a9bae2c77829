"""Scrapy lives here: spiders, the Tor download handler, middlewares, page objects, pipelines.

Importing this package imports nothing; page objects under ``pages`` need no Scrapy at all so a
re-parse from the archive runs the same code without a crawler.
"""
