"""The one exception tree of onionwatch.

Every error the project raises on purpose derives from :class:`OnionwatchError`. Edges translate
them: the CLI into one clear line and an exit code, Scrapy components into ``IgnoreRequest`` /
``DropItem``. Nothing here imports the rest of the project.
"""

from __future__ import annotations


class OnionwatchError(Exception):
    """Base of every error onionwatch raises on purpose."""

    #: process exit code the CLI uses for this family of errors
    exit_code = 1


class ConfigError(OnionwatchError):
    """Settings, market or rule configuration is missing or invalid."""

    exit_code = 2


class TorError(OnionwatchError):
    """Tor is not usable: not configured, not reachable, not bootstrapped."""

    exit_code = 3


class TorUnavailableError(TorError):
    """The Tor SOCKS or control port cannot be reached; nothing is fetched any other way."""


class TorNotReadyError(TorError):
    """Tor is reachable but has not finished bootstrapping."""


class LabError(OnionwatchError):
    """The private Tor network or a simulated market failed to start, or is not running."""

    exit_code = 4


class PageError(OnionwatchError):
    """A page could not be turned into a model (malformed, wrong kind, missing required fields)."""


class StoreError(OnionwatchError):
    """The store (SQLite or Elasticsearch) failed."""

    exit_code = 5


class StoreUnavailableError(StoreError):
    """The store cannot be reached right now; writes are spooled and replayed later."""


class QuerySyntaxError(OnionwatchError):
    """An analyst's query string cannot be parsed."""

    exit_code = 2


class ExtractionError(OnionwatchError):
    """The extraction pipeline could not be built or run."""


class SessionError(OnionwatchError):
    """A market's access control refused us: wrong captcha answer, failed login, no usable session."""

    exit_code = 6
