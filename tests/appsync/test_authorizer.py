"""The AppSync Lambda authorizer takes the keys the HTTP API takes, from the same store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from appsync.authorizer import TTL_S, authorize, principal_from
from config import Settings
from runtime.stores import open_stores
from security.gate import Gate, build_security
from security.keys import KeyService
from security.ratelimit import tiers_from


@pytest.fixture
def keyed(tmp_path: Path) -> Any:
    settings = Settings.from_env({"FLIGHTDATA_ANONYMOUS": "false"}, data_dir=tmp_path / "data")
    stores = open_stores(settings)
    gate = build_security(settings, stores).gate
    assert gate is not None
    yield settings, stores, gate
    stores.close()


def _request(token: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {
        "requestContext": {
            "apiId": "abcdefghijklmnopqrstuvwxyz",
            "accountId": "111122223333",
            "requestId": "f4081827-1111-4444-5555-5cf4695f339f",
            "queryString": "query { pipelineStatus { deadLetterCount } }",
            "operationName": None,
            "variables": {},
        },
        "requestHeaders": {"host": "example.appsync-api.eu-west-1.amazonaws.com"},
    }
    if token is not None:
        event["authorizationToken"] = token
    return event


def _authorize(gate: Gate, token: str | None) -> dict[str, Any]:
    return asyncio.run(authorize(gate, _request(token)))


def test_a_key_of_the_store_is_authorised_with_its_scopes(keyed: Any) -> None:
    settings, stores, gate = keyed
    issued = KeyService(stores.api_keys, frozenset(tiers_from(settings.rate_tiers))).create(
        "ops", scope="admin"
    )

    answer = _authorize(gate, issued.key)

    assert answer["isAuthorized"] is True
    assert answer["ttlOverride"] == TTL_S
    assert all(isinstance(v, str) for v in answer["resolverContext"].values())
    principal = principal_from(answer["resolverContext"])
    assert principal.key_id == issued.record.key_id
    assert "admin" in principal.scopes
    assert _authorize(gate, f"Bearer {issued.key}")["isAuthorized"] is True


@pytest.mark.parametrize("token", [None, "", "fd_000000000000_notakey", "nonsense"])
def test_no_key_or_an_unknown_one_is_refused(keyed: Any, token: str | None) -> None:
    _, _, gate = keyed
    assert _authorize(gate, token) == {"isAuthorized": False, "ttlOverride": TTL_S}


def test_a_revoked_key_is_refused(keyed: Any) -> None:
    settings, stores, gate = keyed
    service = KeyService(stores.api_keys, frozenset(tiers_from(settings.rate_tiers)))
    issued = service.create("maps")
    assert _authorize(gate, issued.key)["isAuthorized"] is True

    service.revoke(issued.record.key_id)
    fresh = build_security(settings, stores).gate  # another container of the authorizer
    assert fresh is not None

    assert _authorize(fresh, issued.key)["isAuthorized"] is False
