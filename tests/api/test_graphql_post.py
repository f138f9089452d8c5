"""The lean JSON POST path answers exactly as Strawberry's own view would."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from app import FlightGraphQL, Runtime
from testkit import ReplayWorld, TestClient

REQUESTS: list[Any] = [
    {"query": '{ airport(code: "LHR") { icao name } }'},
    {
        "query": "query A { flights(first: 2) { totalCount } } "
        'query B { airport(code: "x") { icao } }',
        "operationName": "A",
    },
    {"query": "query Q($c: String!) { airport(code: $c) { icao } }", "variables": {"c": "egll"}},
    {"query": "query Q($c: String!) { airport(code: $c) { icao } }", "variables": {}},
    {"query": '{ flight(icao24: "nothex") { icao24 } }'},
    {"query": "{ flights(first: 5000) { totalCount } }"},
    {"query": "{ flights(first: 1) { nodes { nope } } }"},
    {"query": "{ flights(first: 1) { totalCount "},
    {"query": "query A { flights { totalCount } } query B { flights { totalCount } }"},
    {"query": "mutation { x }"},
]


@pytest.fixture(scope="module")
def strawberry_view(replay_world: ReplayWorld) -> Iterator[TestClient]:
    runtime: Runtime = replay_world.runtime
    view = FlightGraphQL(runtime, graphql_ide=None, allow_queries_via_get=True)
    with TestClient(Starlette(routes=[Route("/graphql", view, methods=["GET", "POST"])])) as c:
        yield c


@pytest.mark.parametrize("body", REQUESTS)
def test_same_answer_as_the_strawberry_view(
    replay_world: ReplayWorld, strawberry_view: TestClient, body: dict[str, Any]
) -> None:
    lean = replay_world.client.post("/graphql", json=body)
    reference = strawberry_view.post("/graphql", json=body)

    assert lean.status_code == reference.status_code
    assert lean.headers["content-type"].startswith(reference.headers["content-type"].split(";")[0])
    if reference.headers["content-type"].startswith("application/json"):
        assert lean.json() == reference.json()
    else:
        assert lean.text == reference.text


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "Unable to parse request body as JSON"),
        (b"[]", "Batching is not enabled"),
        (b'"{ __typename }"', "The request body must be a JSON object, not a string"),
        (b"null", "The request body must be a JSON object, not null"),
        (b'{"variables": {}}', "No GraphQL query found in the request"),
        (b'{"query": "{ __typename }", "variables": [1]}', "The variables must be an object"),
        (b'{"query": 42}', "The query must be a string, not a number"),
        (b'{"query": ["{ __typename }"]}', "The query must be a string, not an array"),
        (b'{"query": {"q": 1}}', "The query must be a string, not an object"),
        (b'{"query": true}', "The query must be a string, not a boolean"),
        (b'{"query": "{ __typename }", "operationName": 5}', "The operationName must be a string"),
        (b'{"query": "{ __typename }", "operationName": ["A"]}', "operationName must be a string"),
        (b'{"query": "{ __typename }", "extensions": 1.5}', "The extensions must be an object"),
        (b'{"query": "{ __typename }", "variables": {"a": NaN}}', "Unable to parse request body"),
    ],
)
def test_a_body_that_is_not_a_graphql_request_is_a_400(
    replay_world: ReplayWorld, caplog: pytest.LogCaptureFixture, raw: bytes, message: str
) -> None:
    response = replay_world.client.post(
        "/graphql", content=raw, headers={"content-type": "application/json"}
    )

    assert response.status_code == 400
    assert message in response.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_several_operations_need_an_operation_name(
    replay_world: ReplayWorld, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    document = "query A { flights(first: 1) { totalCount } } query B { __typename }"
    if method == "GET":
        unnamed = replay_world.client.get("/graphql", params={"query": document})
        named = replay_world.client.get(
            "/graphql", params={"query": document, "operationName": "B"}
        )
    else:
        unnamed = replay_world.client.post("/graphql", json={"query": document})
        named = replay_world.client.post("/graphql", json={"query": document, "operationName": "B"})

    assert unnamed.json() == {
        "data": None,
        "errors": [
            {"message": "Must provide operation name if query contains multiple operations."}
        ],
    }
    assert named.json() == {"data": {"__typename": "Query"}}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_operation_name_is_named(
    replay_world: ReplayWorld, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    request = {"query": "query B { __typename }", "operationName": "A"}
    if method == "GET":
        response = replay_world.client.get("/graphql", params=request)
    else:
        response = replay_world.client.post("/graphql", json=request)

    assert response.status_code == 400
    assert response.text == 'Unknown operation named "A".'
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_other_requests_go_to_the_strawberry_view(replay_world: ReplayWorld) -> None:
    get = replay_world.client.get("/graphql", params={"query": "{ __typename }"})
    form = replay_world.client.post(
        "/graphql", content=b"query={ __typename }", headers={"content-type": "text/plain"}
    )

    assert get.json() == {"data": {"__typename": "Query"}}
    assert form.status_code in {400, 415}


def test_unexpected_errors_are_masked(
    replay_world: ReplayWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(icao24: str) -> None:
        raise RuntimeError("sqlite file /secret/path is corrupt")

    monkeypatch.setattr(replay_world.runtime.stores.flights, "latest", broken)
    body = replay_world.query('{ flight(icao24: "4ca7b5") { icao24 } }')

    assert body["data"] == {"flight": None}
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(body)
