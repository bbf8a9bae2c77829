"""The one typed settings object: the only place environment variables and config files are read.

Precedence (highest first): explicit arguments, ``ONIONWATCH_*`` environment variables
(nested with ``__``, e.g. ``ONIONWATCH_TOR__SOCKS_PORT``), the YAML file named by
``ONIONWATCH_CONFIG`` (default ``config/onionwatch.yaml`` when it exists), then defaults.
Secrets are ``SecretStr`` so they never print. Nothing here touches the network or the disk at
import time; :func:`load_settings` reads once when a command starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from onionwatch.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("config/onionwatch.yaml")
DEFAULT_MARKETS_DIR = Path("config/markets")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TorSettings(_Section):
    socks_host: str = "127.0.0.1"
    #: None = not configured; the crawler then refuses to fetch (fail closed)
    socks_port: int | None = Field(default=None, ge=1, le=65535)
    control_port: int | None = Field(default=None, ge=1, le=65535)
    control_password: SecretStr | None = None
    cookie_path: Path | None = None


class SqliteSettings(_Section):
    path: Path | None = None


class ElasticsearchSettings(_Section):
    url: str = "http://127.0.0.1:9200"
    api_key: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_certs: Path | None = None
    index_prefix: str = "onionwatch"
    request_timeout: float = 30.0


class StoreSettings(_Section):
    backend: Literal["sqlite", "elasticsearch"] = "sqlite"
    sqlite: SqliteSettings = SqliteSettings()
    elasticsearch: ElasticsearchSettings = ElasticsearchSettings()


class CrawlSettings(_Section):
    concurrency: int = Field(default=8, ge=1, le=256)
    #: seconds between requests to one market (AutoThrottle may wait longer, never less)
    download_delay: float = Field(default=0.0, ge=0, le=600)
    #: per-response cap; larger (or larger-when-decompressed) responses are dropped
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    download_timeout: float = Field(default=60.0, gt=0)
    user_agent: str = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
    #: run the spaCy enrichment while crawling (off: store raw listings, enrich later by reparse)
    enrich: bool = True
    #: keep every fetched page in WARC under <data_dir>/archive (needed by `onionwatch reparse`)
    archive: bool = True
    #: file of sha256 digests (canonical URL or host) never to fetch; see `onionwatch denylist-hash`
    denylist: Path | None = None


class LabSettings(_Section):
    #: where the lab keeps tor data directories, keys and its state file
    directory: Path | None = None
    #: ports are taken from this base upwards (each checked to be free). Below the kernel's
    #: ephemeral range (Linux: 32768-60999) so that no outgoing connection on the machine can be
    #: given a lab port as its source between our check and tor's bind (CI saw "auth1 exited ...
    #: Reading config failed" from exactly that with a base of 48350)
    base_port: int = Field(default=27000, ge=1024, le=64000)
    listings: int = Field(default=60, ge=1, le=100_000)
    seed: int = 7


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONIONWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("var")
    markets_dir: Path = DEFAULT_MARKETS_DIR
    tor: TorSettings = TorSettings()
    store: StoreSettings = StoreSettings()
    crawl: CrawlSettings = CrawlSettings()
    lab: LabSettings = LabSettings()
    #: the country (or region: "EU") the analysts work for; listings shipped into it from outside
    #: are flagged ``international``. Unset: the flag stays unknown.
    home_country: str | None = None

    @field_validator("home_country")
    @classmethod
    def _known_place(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from onionwatch.extractors.entities.geo import normalise_place  # pycountry tables load lazily

        code = normalise_place(value)
        if code is None:
            raise ValueError(f"{value!r} is not a country or region onionwatch knows (ISO codes: US, DE, EU)")
        return code

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = _config_file()
        if config_file is not None:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)

    @property
    def sqlite_path(self) -> Path:
        return self.store.sqlite.path or self.data_dir / "onionwatch.sqlite"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def lab_dir(self) -> Path:
        return self.lab.directory or self.data_dir / "lab"


# --- markets as configuration ------------------------------------------------------------------

ONION_V3_HOST = re.compile(r"^[a-z2-7]{56}\.onion$")


def _onion_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL")
    if not ONION_V3_HOST.match(parts.hostname):
        raise ValueError(f"{parts.hostname!r} is not a v3 onion address (56 base32 characters + .onion)")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: a mirror is a base URL, without query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path or '/'}"


OnionUrl = Annotated[str, AfterValidator(_onion_url)]


class LoginConfig(_Section):
    username: str
    #: better from the environment: ONIONWATCH_MARKET_<NAME>_PASSWORD (see MarketConfig.password)
    password: SecretStr | None = None
    path: str = "/login"


class MarketConfig(_Section):
    """One market, from ``config/markets/<name>.yaml``; ``name`` is the stable market id that
    listings carry, whatever mirror served them."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    engine: str = Field(min_length=1)
    mirrors: list[OnionUrl] = Field(min_length=1)
    start_paths: list[str] = Field(default_factory=lambda: ["/"], min_length=1)
    concurrency: int = Field(default=4, ge=1, le=64)
    download_delay: float = Field(default=0.5, ge=0, le=600)
    #: isolated Tor circuits (SOCKS credentials) this market's requests are spread over
    circuits: int = Field(default=1, ge=1, le=16)
    login: LoginConfig | None = None
    #: cron expression for the scheduler (later issue); None = on demand only
    schedule: str | None = None

    @field_validator("start_paths")
    @classmethod
    def _paths(cls, paths: list[str]) -> list[str]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"start path {path!r} must start with '/'")
        return paths

    def password(self) -> SecretStr | None:
        env = os.environ.get(f"ONIONWATCH_MARKET_{self.name.upper().replace('-', '_')}_PASSWORD")
        if env:
            return SecretStr(env)
        return self.login.password if self.login else None


def load_markets(directory: Path | None = None) -> dict[str, MarketConfig]:
    """Every ``*.yaml`` market file in ``directory``; any problem is one ConfigError naming the file."""
    directory = directory or DEFAULT_MARKETS_DIR
    markets: dict[str, MarketConfig] = {}
    if not directory.is_dir():
        return markets
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            market = MarketConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{path}: {_problems(exc)}") from exc
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        if market.name != path.stem:
            raise ConfigError(f"{path}: name {market.name!r} must match the file name {path.stem!r}")
        markets[market.name] = market
    return markets


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
    )


def _config_file() -> Path | None:
    named = os.environ.get("ONIONWATCH_CONFIG")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"ONIONWATCH_CONFIG names {path}, which is not a file")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Read settings once; a broken config becomes one clear :class:`ConfigError`."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {_problems(exc)}") from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable or unparsable YAML
        raise ConfigError(f"cannot read settings: {exc}") from exc
