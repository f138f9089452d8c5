"""The AppSync direct Lambda resolver answers as the ASGI service does: the same documents
go over HTTP and, as AppSync's documented resolver payload, through ``AppSyncResolver``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from appsync.resolver import WATCH_FOR, AppSyncResolver, ResolverError
from appsync.tiles import subscription_filter
from resolvers.root import build_schema
from security.limits import QueryLimits
from testkit import ReplayWorld

FLIGHTS = """
  totalCount
  nodes { icao24 callsign originCountry lastContact latitude longitude onGround
          nearestAirport { airport { icao } distanceKm } }
  pageInfo { hasNextPage endCursor }
"""
CASES: list[tuple[str, str, dict[str, Any], str, dict[str, Any]]] = [
    # field, arguments (as AppSync passes them), selection, its variables
    ("flights", "(first: 5)", {"first": 5}, FLIGHTS, {}),
    (
        "flights",
        "(bbox: {south: 30, west: -30, north: 70, east: 40}, first: 3)",
        {"bbox": {"south": 30, "west": -30, "north": 70, "east": 40}, "first": 3},
        FLIGHTS,
        {},
    ),
    (
        "airports",
        '(country: "FR", first: 3)',
        {"country": "FR", "first": 3},
        "totalCount nodes { icao name latitude runways { length_m: lengthM } }",
        {},
    ),
    ("pipelineStatus", "", {}, "deadLetterCount cycles(last: $n) { cycleId stored }", {"n": 2}),
    ("analytics", "", {}, "regionCounts { aircraft regions { region aircraft } }", {}),
]


def _event(
    field: str,
    arguments: dict[str, Any],
    selection: str,
    variables: dict[str, Any],
    resolver_context: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "arguments": arguments,
        "identity": {"resolverContext": resolver_context} if resolver_context else None,
        "source": None,
        "request": {"headers": {"host": "example.appsync-api.eu-west-1.amazonaws.com"}},
        "prev": None,
        "stash": {},
        "info": {
            "parentTypeName": "Query",
            "fieldName": field,
            "variables": variables,
            "selectionSetList": [],
            "selectionSetGraphQL": "{\n" + selection + "\n}",
        },
    }


@pytest.fixture(scope="module")
def resolver(replay_world: ReplayWorld) -> AppSyncResolver:
    rt = replay_world.runtime
    schema = build_schema(QueryLimits.from_settings(rt.settings))
    return AppSyncResolver(schema=schema, stores=rt.stores, settings=rt.settings)


def _dealiased(selection: str) -> str:
    return selection.replace("length_m: ", "")


@pytest.mark.parametrize(("field", "args", "arguments", "selection", "variables"), CASES)
def test_answers_equal_the_asgi_service(
    replay_world: ReplayWorld,
    resolver: AppSyncResolver,
    field: str,
    args: str,
    arguments: dict[str, Any],
    selection: str,
    variables: dict[str, Any],
) -> None:
    declared = "($n: Int!)" if variables else ""
    query = f"query{declared} {{ {field}{args} {{ {_dealiased(selection)} }} }}"
    http = replay_world.client.post("/graphql", json={"query": query, "variables": variables})
    assert http.status_code == 200, http.text
    assert "errors" not in http.json()
    expected = http.json()["data"][field]

    answer = asyncio.run(resolver.resolve(_event(field, arguments, selection, variables)))

    assert answer == expected
    assert answer  # the world has flights and airports: an empty answer proves nothing


def test_a_bad_argument_is_the_same_client_error(resolver: AppSyncResolver) -> None:
    with pytest.raises(ResolverError) as raised:
        asyncio.run(resolver.resolve(_event("flights", {"first": -1}, "totalCount", {})))
    assert "first" in str(raised.value)


def test_admin_fields_need_the_admin_scope(resolver: AppSyncResolver) -> None:
    reader = {
        "principal": "key:0123456789ab",
        "keyId": "0123456789ab",
        "scopes": "read",
        "tier": "standard",
    }
    event = _event("deadLetters", {"first": 1}, "totalCount", {}, reader)

    with pytest.raises(ResolverError) as raised:
        asyncio.run(resolver.resolve(event))
    assert raised.value.code == "FORBIDDEN"
    admin = {**reader, "scopes": "admin read"}
    answer = asyncio.run(
        resolver.resolve(_event("deadLetters", {"first": 1}, "totalCount", {}, admin))
    )
    assert answer["totalCount"] > 0  # the replayed world's rejects


def test_only_query_fields_resolve_here(resolver: AppSyncResolver) -> None:
    event = _event("publishFlightUpdates", {}, "cycleId", {})
    event["info"]["parentTypeName"] = "Mutation"
    with pytest.raises(ResolverError):
        asyncio.run(resolver.resolve(event))


def _subscribe(field: str, arguments: dict[str, Any]) -> dict[str, Any]:
    event = _event(field, arguments, "", {})
    event["info"]["parentTypeName"] = "Subscription"
    return event


def test_a_track_subscription_watches_its_aircraft(resolver: AppSyncResolver) -> None:
    watches = resolver.stores.watches
    now = datetime.now(UTC)
    assert "3c6444" not in watches.watched("trackUpdates", now)

    answer = asyncio.run(resolver.resolve(_subscribe("trackUpdates", {"icao24": "3c6444"})))

    assert answer is None  # no enhanced filter: AppSync matches icao24 itself
    assert "3c6444" in watches.watched("trackUpdates", now + WATCH_FOR - timedelta(minutes=1))
    assert "3c6444" not in watches.watched("trackUpdates", now + WATCH_FOR + timedelta(minutes=1))


@pytest.mark.parametrize(
    ("icao24", "message"),
    [
        ("4b18zz", "icao24 must be 6 hexadecimal digits"),
        # AppSync matches the argument with the published icao24 as written.
        ("4B1814", 'icao24 must be written as AppSync publishes it, "4b1814"'),
    ],
)
def test_a_track_subscription_with_a_bad_aircraft_is_refused(
    resolver: AppSyncResolver, icao24: str, message: str
) -> None:
    with pytest.raises(ResolverError) as raised:
        asyncio.run(resolver.resolve(_subscribe("trackUpdates", {"icao24": icao24})))
    assert message in str(raised.value)
    assert raised.value.code == "BAD_USER_INPUT"
    assert icao24.lower() not in resolver.stores.watches.watched("trackUpdates", datetime.now(UTC))


def test_a_flight_subscription_naming_aircraft_watches_them(resolver: AppSyncResolver) -> None:
    watches = resolver.stores.watches
    named = {"icao24": ["A1B2C3", "d4e5f6"], "bbox": None}

    found = asyncio.run(resolver.resolve(_subscribe("flightUpdates", named)))

    assert found == subscription_filter(named)
    assert watches.watched("flightUpdates", datetime.now(UTC)) >= {"a1b2c3", "d4e5f6"}
    assert not watches.watched("trackUpdates", datetime.now(UTC)) & {"a1b2c3", "d4e5f6"}
    boxed = {"bbox": {"south": 46.0, "west": 6.0, "north": 46.5, "east": 6.5}}
    assert asyncio.run(resolver.resolve(_subscribe("flightUpdates", boxed))) == {
        "filterGroup": [{"filters": [{"fieldName": "tile", "operator": "in", "value": ["9.12"]}]}]
    }
