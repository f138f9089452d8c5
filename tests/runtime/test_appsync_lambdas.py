"""The AppSync handlers: one key of the store passes the authorizer, and the resolver answers
with the identity the authorizer gave."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from config import Settings
from runtime import appsync_lambdas
from runtime.stores import open_stores
from security.keys import KeyService
from security.ratelimit import tiers_from


class _LambdaContext:
    aws_request_id = "0a1b2c3d-1111-4444-5555-5cf4695f339f"


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch, seeded_settings: Settings) -> Iterator[str]:
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(seeded_settings.data_dir))
    monkeypatch.setenv("FLIGHTDATA_INGEST", "false")
    monkeypatch.setenv("FLIGHTDATA_ANONYMOUS", "false")
    stores = open_stores(seeded_settings)
    try:
        tiers = frozenset(tiers_from(seeded_settings.rate_tiers))
        yield KeyService(stores.api_keys, tiers).create("maps").key
    finally:
        stores.close()
    appsync_lambdas.reset_runtime()


def _query(resolver_context: dict[str, str]) -> dict[str, Any]:
    return {
        "arguments": {"code": "LFPG"},
        "identity": {"resolverContext": resolver_context},
        "source": None,
        "request": {"headers": {}},
        "prev": None,
        "stash": {},
        "info": {
            "parentTypeName": "Query",
            "fieldName": "airport",
            "variables": {},
            "selectionSetList": ["icao", "country"],
            "selectionSetGraphQL": "{\n  icao\n  country\n}",
        },
    }


def test_an_authorised_key_queries_through_the_resolver(key: str) -> None:
    auth = appsync_lambdas.authorizer(
        {"authorizationToken": key, "requestContext": {"requestId": "r1"}}, _LambdaContext()
    )
    assert auth["isAuthorized"] is True

    answer = appsync_lambdas.resolver(_query(auth["resolverContext"]), _LambdaContext())

    assert answer == {"icao": "LFPG", "country": "FR"}


def test_another_token_is_refused(key: str) -> None:
    auth = appsync_lambdas.authorizer(
        {"authorizationToken": key[:-2] + "xx", "requestContext": {}}, _LambdaContext()
    )
    assert auth["isAuthorized"] is False


def test_importing_the_module_builds_nothing() -> None:
    assert appsync_lambdas._runtime is None
