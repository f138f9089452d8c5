"""The Lambda handler: API Gateway HTTP API (v2) events through Mangum into the same app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import app
from config import Settings
from runtime import lambdas

EVENTS = Path(__file__).parent / "fixtures" / "events"


class _LambdaContext:
    function_name = "flight-api-handler"
    aws_request_id = "6f5d7c1e-8a3b-4c2d-9e0f-1a2b3c4d5e6f"


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, seeded_settings: Settings) -> lambdas.LazyMangum:
    for name, value in {
        "FLIGHTDATA_DATA_DIR": str(seeded_settings.data_dir),
        "FLIGHTDATA_INGEST": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return lambdas.LazyMangum()


def test_graphql_post_event_is_answered_by_the_app(handler: lambdas.LazyMangum) -> None:
    response = handler(_event("apigw_http_v2_graphql_post.json"), _LambdaContext())

    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False
    body = json.loads(response["body"])
    assert "errors" not in body
    assert body["data"]["airport"] == {"icao": "EGLL", "name": "London Heathrow Airport"}
    assert body["data"]["flights"]["totalCount"] == 0


def test_health_event_reports_the_store(handler: lambdas.LazyMangum) -> None:
    response = handler(_event("apigw_http_v2_healthz_get.json"), _LambdaContext())

    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert body["store"] == "reachable"
    assert body["newest_state_age_s"] is None


def test_handler_builds_the_app_once(handler: lambdas.LazyMangum) -> None:
    handler(_event("apigw_http_v2_healthz_get.json"), _LambdaContext())
    first = handler._handler
    handler(_event("apigw_http_v2_healthz_get.json"), _LambdaContext())

    assert first is not None
    assert handler._handler is first


def test_importing_the_module_opens_nothing() -> None:
    assert isinstance(app.handler, lambdas.LazyMangum)
    assert app.handler._handler is None
