"""Stores (SQLite embedded, Elasticsearch) behind one protocol, search, rules, outbox, notifiers.

Never imports Scrapy.
"""
