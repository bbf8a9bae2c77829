"""The one typed settings object: the only place environment variables and config files are read.

Precedence (highest first): explicit arguments, ``ONIONWATCH_*`` environment variables
(nested with ``__``, e.g. ``ONIONWATCH_TOR__SOCKS_PORT``), the YAML file named by
``ONIONWATCH_CONFIG`` (default ``config/onionwatch.yaml`` when it exists), then defaults.
Secrets are ``SecretStr`` so they never print. Nothing here touches the network or the disk at
import time; :func:`load_settings` reads once when a command starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from onionwatch.errors import ConfigError

DEFAULT_CONFIG_FILE = Path("config/onionwatch.yaml")


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
    #: per-response cap; larger (or larger-when-decompressed) responses are dropped
    max_page_bytes: int = Field(default=5 * 1024 * 1024, ge=1024)
    download_timeout: float = Field(default=60.0, gt=0)
    user_agent: str = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
    #: run the spaCy enrichment while crawling (off: store raw listings, enrich later by reparse)
    enrich: bool = True
    #: keep every fetched page in WARC under <data_dir>/archive (needed by `onionwatch reparse`)
    archive: bool = True


class LabSettings(_Section):
    #: where the lab keeps tor data directories, keys and its state file
    directory: Path | None = None
    #: ports are taken from this base upwards (each checked to be free)
    base_port: int = Field(default=47000, ge=1024, le=64000)
    listings: int = Field(default=60, ge=1, le=100_000)
    seed: int = 7


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ONIONWATCH_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    data_dir: Path = Path("var")
    tor: TorSettings = TorSettings()
    store: StoreSettings = StoreSettings()
    crawl: CrawlSettings = CrawlSettings()
    lab: LabSettings = LabSettings()

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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:  # unreadable or unparsable YAML
        raise ConfigError(f"cannot read settings: {exc}") from exc
