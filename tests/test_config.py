"""Settings: read once from an environment mapping, loud and precise on a bad value."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from config import ConfigError, Settings


def test_defaults_from_an_empty_environment() -> None:
    settings = Settings.from_env({})
    assert settings.data_dir == Path("var")
    assert settings.database_path == Path("var") / "flightdata.sqlite3"
    assert settings.source == "replay"
    assert settings.interval_s == 10.0
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8000, 1)
    assert settings.ingest is True
    assert settings.max_page_size == 1000
    assert settings.backend == "embedded"
    assert settings.cors_origins == ()
    assert settings.opensky_api_url == "https://opensky-network.org/api"


def test_values_are_read_and_converted() -> None:
    settings = Settings.from_env(
        {
            "FLIGHTDATA_DATA_DIR": "/tmp/fd",
            "FLIGHTDATA_SOURCE": "file:states.json",
            "FLIGHTDATA_INTERVAL": "2.5",
            "FLIGHTDATA_INGEST": "off",
            "HOST": "0.0.0.0",
            "PORT": "8123",
            "WEB_CONCURRENCY": "4",
            "MAX_PAGE_SIZE": "50",
            "CORS_ORIGINS": "https://a.example, ,https://b.example",
            "FLIGHTDATA_GRAPHIQL": "FALSE",
            "UNRELATED": "ignored",
        }
    )
    assert settings.data_dir == Path("/tmp/fd")
    assert settings.source == "file:states.json"
    assert settings.interval_s == 2.5
    assert settings.ingest is False
    assert (settings.host, settings.port, settings.workers) == ("0.0.0.0", 8123, 4)
    assert settings.max_page_size == 50
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.graphiql is False


def test_dashboard_settings() -> None:
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    settings = Settings.from_env(
        {
            "FLIGHTDATA_DASHBOARD_DIR": "/srv/dashboard",
            "FLIGHTDATA_TILE_URL": f" {tiles} ",
            "FLIGHTDATA_TILE_ATTRIBUTION": "© Example",
        }
    )
    assert settings.dashboard_dir == Path("/srv/dashboard")
    assert settings.tile_url == tiles
    assert settings.tile_attribution == "© Example"
    assert Settings.from_env({}).tile_url == ""


def test_local_file_retention() -> None:
    defaults = Settings.from_env({})
    assert (defaults.raw_days, defaults.processed_days) == (1.0, 7.0)
    settings = Settings.from_env({"FLIGHTDATA_RAW_DAYS": "0.5", "FLIGHTDATA_PROCESSED_DAYS": "0"})
    assert (settings.raw_days, settings.processed_days) == (0.5, 0.0)


@pytest.mark.parametrize("raw", ["1", "true", "Yes", " on "])
def test_true_spellings(raw: str) -> None:
    assert Settings.from_env({"FLIGHTDATA_INGEST": raw}).ingest is True


def test_empty_value_means_default() -> None:
    assert Settings.from_env({"PORT": "", "FLIGHTDATA_SOURCE": ""}).port == 8000


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("PORT", "http", "PORT: invalid literal for int() with base 10: 'http'"),
        ("PORT", "0", "PORT: must be a TCP port from 1 to 65535, got '0'"),
        ("PORT", "-80", "PORT: must be a TCP port from 1 to 65535, got '-80'"),
        ("PORT", "70000", "PORT: must be a TCP port from 1 to 65535, got '70000'"),
        ("WEB_CONCURRENCY", "two", "WEB_CONCURRENCY: invalid literal"),
        ("FLIGHTDATA_INTERVAL", "soon", "FLIGHTDATA_INTERVAL: could not convert"),
        ("FLIGHTDATA_INTERVAL", "nan", "FLIGHTDATA_INTERVAL: must be greater than 0"),
        ("FLIGHTDATA_INGEST", "maybe", "FLIGHTDATA_INGEST: expected true or false, got 'maybe'"),
        ("MAX_PAGE_SIZE", "0", "MAX_PAGE_SIZE: must be greater than 0"),
        ("FLIGHTDATA_RAW_DAYS", "-1", "FLIGHTDATA_RAW_DAYS: must be 0 or more"),
        ("FLIGHTDATA_PROCESSED_DAYS", "inf", "FLIGHTDATA_PROCESSED_DAYS: must be 0 or more"),
        ("FLIGHTDATA_BACKEND", "oracle", "FLIGHTDATA_BACKEND: unknown backend 'oracle'"),
        ("FLIGHTDATA_TILE_URL", "tiles.example/{z}/{x}/{y}", "FLIGHTDATA_TILE_URL: expected an"),
        ("FLIGHTDATA_TILE_URL", "//tiles.example/{z}/{x}/{y}", "FLIGHTDATA_TILE_URL: expected an"),
        (
            "FLIGHTDATA_TILE_URL",
            "https://tiles.example/{z}/{x}.png",
            "FLIGHTDATA_TILE_URL: expected {y} in the tile URL",
        ),
    ],
)
def test_bad_value_names_its_variable(env: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        Settings.from_env({env: value})
    assert str(exc.value).startswith(message)


def test_overrides_win_and_none_is_no_override(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PORT": "9000", "HOST": "::1"}, port=9100, host=None, data_dir=tmp_path
    )
    assert (settings.port, settings.host, settings.data_dir) == (9100, "::1", tmp_path)


def test_reads_the_process_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8765")
    monkeypatch.setenv("FLIGHTDATA_SOURCE", "opensky")
    settings = Settings.from_env()
    assert (settings.port, settings.source) == (8765, "opensky")


def test_every_setting_has_its_own_variable() -> None:
    names = [f.metadata["env"] for f in fields(Settings)]
    assert len(names) == len(set(names))
    assert {
        "FLIGHTDATA_SOURCE",
        "FLIGHTDATA_INTERVAL",
        "FLIGHTDATA_DATA_DIR",
        "HOST",
        "PORT",
    } <= set(names)


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_the_aws_backend_names_every_missing_setting() -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"FLIGHTDATA_BACKEND": "aws", "S3_RAW_BUCKET": "b"})
    assert str(error.value) == (
        "DYNAMODB_FLIGHTS_TABLE, DYNAMODB_AIRPORTS_TABLE, DYNAMODB_OPS_TABLE: "
        "required when FLIGHTDATA_BACKEND=aws, but not set"
    )


def test_the_aws_backend_with_its_settings() -> None:
    settings = Settings.from_env(
        {
            "FLIGHTDATA_BACKEND": "aws",
            "DYNAMODB_FLIGHTS_TABLE": "flights",
            "DYNAMODB_AIRPORTS_TABLE": "airports",
            "DYNAMODB_OPS_TABLE": "ops",
            "S3_RAW_BUCKET": "raw",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:5000",
        }
    )
    assert settings.backend == "aws"
    assert settings.aws_endpoint_url == "http://127.0.0.1:5000"
