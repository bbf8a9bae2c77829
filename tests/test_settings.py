"""Settings: one typed object; broken configuration is one clear ConfigError, secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from onionwatch.errors import ConfigError
from onionwatch.settings import load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config" / "onionwatch.example.yaml"


def test_example_config_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONIONWATCH_CONFIG", str(EXAMPLE))
    settings = load_settings()
    assert settings.tor.socks_port == 9050
    assert settings.store.backend == "sqlite"


def test_environment_wins_over_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONIONWATCH_CONFIG", str(EXAMPLE))
    monkeypatch.setenv("ONIONWATCH_TOR__SOCKS_PORT", "9150")
    assert load_settings().tor.socks_port == 9150


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tor:\n  sock_port: 9050\n", "tor.sock_port: Extra inputs are not permitted"),
        ("store:\n  backend: mongodb\n", "store.backend"),
        ("crawl:\n  concurrency: 0\n", "crawl.concurrency"),
        ("tor: [unclosed\n", "cannot read settings"),
        ("home_country: Atlantis\n", "home_country"),
    ],
)
def test_broken_config_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    monkeypatch.setenv("ONIONWATCH_CONFIG", str(path))
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ONIONWATCH_CONFIG", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"nope\.yaml"):
        load_settings()


def test_secrets_do_not_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONIONWATCH_STORE__ELASTICSEARCH__API_KEY", "s3cr3t-key")
    settings = load_settings()
    assert "s3cr3t-key" not in repr(settings) and "s3cr3t-key" not in str(settings.model_dump())
    assert settings.store.elasticsearch.api_key is not None
    assert settings.store.elasticsearch.api_key.get_secret_value() == "s3cr3t-key"


def test_home_country_is_normalised(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("home_country: United States\n")
    monkeypatch.setenv("ONIONWATCH_CONFIG", str(path))
    assert load_settings().home_country == "US"
