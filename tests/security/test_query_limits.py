"""The analysis of documents behind the query limits, through ``schema.execute``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from graphql import get_introspection_query

from resolvers.root import build_schema
from security.limits import QueryLimits

SCHEMA = build_schema(QueryLimits(max_cost=10_000, max_depth=7, max_aliases=4))
GUARD = SCHEMA.guard
assert GUARD is not None


def cost(query: str, variables: dict[str, Any] | None = None, name: str | None = None) -> int:
    shape = GUARD.shape(query).operation(name)
    assert shape is not None
    return shape.cost_for(variables, 1000)


def errors(query: str, variables: dict[str, Any] | None = None) -> list[Any]:
    """What ``schema.execute`` would refuse the operation with, before running it."""
    error = GUARD.check(query, variables, None, None)
    return [] if error is None else [(error.message, error.extensions)]


def test_page_sizes_multiply_what_the_page_holds() -> None:
    assert cost("{ flights(first: 10) { nodes { icao24 callsign } } }") == 1 + 1 + 10 * 2
    assert cost("{ flights { nodes { icao24 } } }") == 1 + 1 + 100  # the default first: 100
    edges = "{ flights(first: 10) { edges { cursor node { icao24 } } } }"
    assert cost(edges) == 1 + 1 + 10 * (1 + 1 + 1)
    assert cost("{ pipelineStatus { cycles(last: 3) { source } } }") == 1 + 1 + 3


def test_page_sizes_from_variables_count_per_request() -> None:
    query = "query($n: Int = 7) { flights(first: $n) { nodes { icao24 } } }"

    assert cost(query, {"n": 50}) == 2 + 50
    assert cost(query, {}) == 2 + 7  # the variable's default
    assert cost(query, {"n": 10**9}) == 2 + 1000  # MAX_PAGE_SIZE: the resolver refuses more
    assert cost(query, {"n": "many"}) == 2 + 7  # not an int: coercion will refuse it


def test_the_cost_error_states_the_cost_and_the_limit() -> None:
    query = "query($n: Int!) { flights(first: $n) { nodes { icao24 track { points { time } } } } }"
    # flights 1 + nodes (1 + n x (icao24 + track (1 + points (1 + 360 x time))))
    expected = 1 + 1 + 50 * (1 + 1 + 1 + 360)

    assert errors(query, {"n": 50}) == [
        (
            f"the query's estimated cost is {expected:,}; the limit is 10,000 "
            "(FLIGHTDATA_MAX_QUERY_COST). Each field counts once per item its enclosing "
            "lists may return (page sizes included): ask for fewer items or fields",
            {"code": "QUERY_TOO_COSTLY", "cost": expected, "limit": 10_000},
        )
    ]
    assert errors(query, {"n": 20}) == []


def test_fragments_count_where_they_are_spread() -> None:
    query = """
      query { flights(first: 5) { nodes { ...F } } a: flight(icao24: "abc123") { ...F } }
      fragment F on Flight { icao24 route { departure { icao } } }
    """
    per_flight = 1 + (1 + (1 + 1))
    assert cost(query) == (1 + 1 + 5 * per_flight) + (1 + per_flight)


def test_a_fragment_bomb_is_analysed_in_linear_time() -> None:
    # F0 spreads F1 twice, F1 spreads F2 twice, ... : 2**40 fields if expanded naively.
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)] + [
        'fragment F40 on Query { airport(code: "LHR") { icao } }'
    ]
    query = "{ ...F0 }\n" + "\n".join(fragments)

    started = time.perf_counter()
    assert cost(query) == 2**40 * 2
    assert time.perf_counter() - started < 0.5
    assert errors(query)[0][1]["code"] == "QUERY_TOO_COSTLY"


def test_the_introspection_query_of_graphiql_passes_every_limit() -> None:
    query = get_introspection_query(descriptions=True)

    assert errors(query) == []
    result = asyncio.run(SCHEMA.execute(query))
    assert result.errors is None


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (
            "{ flights { edges { node { route { departure { runways { lowEnd { ident } } } } } } }"
            " }",
            "QUERY_TOO_DEEP",
        ),
        (
            "{ a: __typename b: __typename c: __typename d: __typename e: __typename }",
            "TOO_MANY_ALIASES",
        ),
    ],
)
def test_depth_and_aliases(query: str, code: str) -> None:
    [(_, extensions)] = errors(query)
    assert extensions["code"] == code


def test_subscriptions_are_checked_too() -> None:
    query = "subscription { flightUpdates { flights { icao24 track { points { time } } } } }"

    async def first() -> Any:
        source = await SCHEMA.subscribe(query)
        async for result in source:
            return result
        return None

    result = asyncio.run(first())
    assert result.errors[0].extensions["code"] == "QUERY_TOO_COSTLY"
