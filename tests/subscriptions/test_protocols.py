"""Malformed WebSocket messages on both GraphQL protocols: each is answered as its protocol
says, with what is wrong, the connection is never dropped without a close frame, and
nothing is logged as an error.

``graphql-transport-ws`` closes with 4400 and a reason; the legacy ``graphql-ws`` answers
with ``connection_error`` (or ``error`` for an operation id) and goes on serving."""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import AsyncGenerator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import strawberry
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import WebSocketTestSession
from strawberry.http.exceptions import WebSocketDisconnected

from config import Settings
from runtime.http import create_app
from subscriptions.protocols import LegacyWSHandler, TransportWSHandler
from testkit import TestClient

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
PROBE = {"type": "start", "id": "probe", "payload": {"query": "{ __typename }"}}


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("ws") / "data"
    data.mkdir()
    shutil.copyfile(seeded_db, data / seeded_db.name)
    # Every example is a connection: the quota would refuse them long before the end.
    generous = {"FLIGHTDATA_RATE_TIERS": "anonymous=1e6:1000000,standard=1e6:1000000"}
    settings = Settings.from_env(generous, data_dir=data)
    with TestClient(create_app(settings, ingest=False)) as client:
        yield client


@pytest.fixture(scope="module")
def errors() -> Iterator[_Errors]:
    handler = _Errors()
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _connected(ws: WebSocketTestSession) -> None:
    ws.send_text('{"type": "connection_init"}')
    while (message := ws.receive_json())["type"] != "connection_ack":
        assert message["type"] == "ka"


def _transport_ws(client: TestClient, frame: str | bytes) -> list[Any]:
    """What follows ``frame`` until a ping is answered, or the close as ``(code, reason)``."""
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        _connected(ws)
        ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_text(frame)
        ws.send_text('{"type": "ping"}')
        return _until(ws, lambda m: m["type"] == "pong")


def _legacy_ws(client: TestClient, frame: str | bytes) -> list[Any]:
    """What follows ``frame`` until a probing query is complete, or the close."""
    with client.websocket_connect("/graphql", subprotocols=[LEGACY_WS]) as ws:
        _connected(ws)
        ws.send_bytes(frame) if isinstance(frame, bytes) else ws.send_text(frame)
        ws.send_text(orjson.dumps(PROBE).decode())
        return _until(ws, lambda m: m.get("id") == "probe" and m["type"] in {"complete", "error"})


def _until(ws: WebSocketTestSession, last: Any) -> list[Any]:
    seen: list[Any] = []
    while True:
        message = ws.receive()
        if message["type"] == "websocket.close":
            return [*seen, (message["code"], message.get("reason", ""))]
        received = orjson.loads(message["text"])
        if received["type"] != "ka":
            seen.append(received)
        if last(received):
            return seen


NOT_OBJECTS = ["null", "[]", "42", '"connection_init"', "true", '[{"type": "ping"}]']


@pytest.mark.parametrize("frame", NOT_OBJECTS)
def test_a_message_that_is_not_an_object(client: TestClient, errors: _Errors, frame: str) -> None:
    wrong = "a message must be a JSON object"

    assert _transport_ws(client, frame) == [(4400, wrong)]
    assert _legacy_ws(client, frame)[0] == {
        "type": "connection_error",
        "payload": {"message": wrong},
    }
    assert errors.records == []


@pytest.mark.parametrize(
    ("transport_ws", "legacy_ws", "wrong"),
    [
        ({}, {}, "a message needs a type"),
        (
            {"type": "subscribe", "id": "1", "payload": "{ __typename }"},
            {"type": "start", "id": "1", "payload": "{ __typename }"},
            "message: payload must be an object",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": 42}},
            {"type": "start", "id": "1", "payload": {"query": 42}},
            "message: payload.query must be a string",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"variables": {}}},
            {"type": "start", "id": "1", "payload": {"variables": {}}},
            "message: payload.query is required",
        ),
        (
            {"type": "subscribe", "id": "1", "payload": {"query": "{ x }", "variables": [1]}},
            {"type": "start", "id": "1", "payload": {"query": "{ x }", "variables": [1]}},
            "message: payload.variables must be an object",
        ),
        (
            {"type": "subscribe", "id": 7, "payload": {"query": "{ __typename }"}},
            {"type": "start", "id": 7, "payload": {"query": "{ __typename }"}},
            "message: id must be a string",
        ),
        ({"type": "complete"}, {"type": "stop"}, "message: id is required"),
        ({"type": "connection_init", "payload": 3}, {"type": "nope"}, ""),
    ],
)
def test_a_message_of_the_wrong_shape_says_what_is_wrong(
    client: TestClient,
    errors: _Errors,
    transport_ws: dict[str, Any],
    legacy_ws: dict[str, Any],
    wrong: str,
) -> None:
    [(code, reason)] = _transport_ws(client, orjson.dumps(transport_ws).decode())
    refused, *served = _legacy_ws(client, orjson.dumps(legacy_ws).decode())

    assert code == 4400
    assert wrong in reason
    op_id = legacy_ws.get("id")
    if isinstance(op_id, str):
        assert refused == {
            "type": "error",
            "id": op_id,
            "payload": {"message": refused_text(refused)},
        }
    else:
        assert refused["type"] == "connection_error"
    assert wrong in refused_text(refused)
    assert served[-1] == {"type": "complete", "id": "probe"}, "the legacy socket goes on"
    assert errors.records == []


def refused_text(message: dict[str, Any]) -> str:
    text: str = message["payload"]["message"]
    assert text
    return text


def test_an_unknown_type_is_named(client: TestClient) -> None:
    [(code, reason)] = _transport_ws(client, '{"type": "start", "id": "1"}')
    refused = _legacy_ws(client, '{"type": "subscribe", "id": "1"}')[0]

    assert code == 4400
    assert reason.startswith("unknown message type 'start'; expected 'connection_init'")
    assert refused_text(refused).startswith("unknown message type 'subscribe'; expected")


def test_text_that_is_not_json_and_binary_frames(client: TestClient, errors: _Errors) -> None:
    assert _transport_ws(client, "{not json") == [(4400, "WebSocket message must be valid JSON")]
    assert _transport_ws(client, b'{"type": "ping"}') == [
        (4400, "WebSocket message type must be text")
    ]
    assert _legacy_ws(client, "{not json")[0] == {
        "type": "connection_error",
        "payload": {"message": "a message must be JSON"},
    }
    assert _legacy_ws(client, b'{"type": "ping"}') == [
        (1002, "WebSocket message type must be text")
    ]
    assert errors.records == []


def test_a_second_connection_init_is_refused(client: TestClient) -> None:
    again = '{"type": "connection_init"}'

    assert _transport_ws(client, again) == [(4429, "Too many initialisation requests")]
    assert _legacy_ws(client, again)[0] == {
        "type": "connection_error",
        "payload": {"message": "the connection is initialised already"},
    }


MULTIPLE = "query A { __typename } query B { __typename }"


def test_graphql_errors_reach_the_client_as_errors(client: TestClient, errors: _Errors) -> None:
    bad_box = (
        "subscription { flightUpdates(bbox: {south: 1e308, west: 0, north: 0, east: 0})"
        " { cycleId } }"
    )
    unnamed = {"type": "subscribe", "id": "1", "payload": {"query": MULTIPLE}}
    box = {"type": "subscribe", "id": "2", "payload": {"query": bad_box}}

    assert _transport_ws(client, orjson.dumps(unnamed).decode())[0] == {
        "id": "1",
        "type": "error",
        "payload": [
            {"message": "Must provide operation name if query contains multiple operations."}
        ],
    }
    answer = _transport_ws(client, orjson.dumps(box).decode())[0]
    assert answer["payload"]["errors"][0]["message"].startswith("south must be between -90 and 90")
    legacy = _legacy_ws(client, orjson.dumps({**unnamed, "type": "start"}).decode())[0]
    assert legacy["type"] == "error"
    assert legacy["payload"]["message"].startswith("Must provide operation name")
    assert errors.records == []


@pytest.mark.parametrize(
    "payload",
    [
        {"query": "{ __typename }", "operationName": "A"},
        {"query": "subscription B { flightUpdates { cycleId } }", "operationName": "A"},
    ],
    ids=["query", "subscription"],
)
def test_an_unknown_operation_name_is_named(
    client: TestClient, errors: _Errors, payload: dict[str, str]
) -> None:
    subscribe = {"type": "subscribe", "id": "1", "payload": payload}

    assert _transport_ws(client, orjson.dumps(subscribe).decode())[0] == {
        "id": "1",
        "type": "error",
        "payload": [{"message": "Unknown operation named 'A'."}],
    }
    legacy = _legacy_ws(client, orjson.dumps({**subscribe, "type": "start"}).decode())
    assert legacy[0] == {
        "id": "1",
        "type": "error",
        "payload": {"message": "Unknown operation named 'A'."},
    }
    assert errors.records == []


# Fuzzing: any JSON value, and messages that are nearly right.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
DOCUMENTS = st.sampled_from(
    [
        "{ __typename }",
        MULTIPLE,
        'subscription { trackUpdates(icao24: "zz") { time } }',
        "subscription { flightUpdates { cycleId } }",
        "subscription {",
    ]
)
REQUESTS = st.fixed_dictionaries(
    {},
    optional={
        "query": DOCUMENTS | JSON,
        "variables": JSON,
        "operationName": st.sampled_from(["A", "B"]) | JSON,
        "extensions": JSON,
    },
)


def _messages(types: list[str]) -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"type": st.sampled_from(types) | JSON},
        optional={"id": st.sampled_from(["1", "2"]) | JSON, "payload": REQUESTS | JSON},
    )


FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(message=JSON | _messages(["connection_init", "ping", "pong", "subscribe", "complete"]))
def test_fuzzed_transport_ws_messages(client: TestClient, errors: _Errors, message: Any) -> None:
    answers = _transport_ws(client, orjson.dumps(message).decode())

    if isinstance(answers[-1], tuple):  # closed
        code, reason = answers[-1]
        assert 4400 <= code < 4500
        assert reason
    else:
        assert answers[-1] == {"type": "pong"}
    if not isinstance(message, dict):
        assert answers == [(4400, "a message must be a JSON object")]
    assert errors.records == []


@FUZZ
@given(message=JSON | _messages(["connection_init", "start", "stop", "connection_terminate"]))
def test_fuzzed_legacy_ws_messages(client: TestClient, errors: _Errors, message: Any) -> None:
    answers = _legacy_ws(client, orjson.dumps(message).decode())

    if isinstance(answers[-1], tuple):  # closed: only when asked to
        assert message == {"type": "connection_terminate", **message}
        assert answers[-1][0] == 1000
    else:
        assert answers[-1]["type"] == "complete"
    known = ("connection_init", "start", "stop", "connection_terminate")
    if not isinstance(message, dict) or message.get("type") not in known:
        assert answers[0]["type"] in {"connection_error", "error"}
        assert refused_text(answers[0])
    assert errors.records == []


# A client that goes away while it is being sent a result.
@strawberry.type
class _Query:
    ok: bool = True


@strawberry.type
class _Subscription:
    @strawberry.subscription
    async def ticks(self) -> AsyncGenerator[int, None]:
        yield 1


class _Gone:
    """The WebSocket of a client that went away: every send fails as Strawberry's
    adapter reports it."""

    async def send_json(self, message: object) -> None:
        raise WebSocketDisconnected


def test_a_client_gone_mid_send_ends_its_operation_quietly(errors: _Errors) -> None:
    transport_ws = TransportWSHandler(
        None,  # type: ignore[arg-type]
        _Gone(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        strawberry.Schema(query=_Query),
        timedelta(seconds=1),
    )
    legacy_ws = LegacyWSHandler(
        None,  # type: ignore[arg-type]
        _Gone(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        None,
        strawberry.Schema(query=_Query, subscription=_Subscription),
        keep_alive=False,
        keep_alive_interval=None,
    )

    asyncio.run(transport_ws.handle_task_exception(WebSocketDisconnected()))
    asyncio.run(legacy_ws.handle_async_results("1", "subscription { ticks }", None, None))

    assert errors.records == []
    asyncio.run(transport_ws.handle_task_exception(RuntimeError("a bug")))  # still an error
    assert [r.getMessage() for r in errors.records] == ["Exception in worker task"]
    errors.records.clear()
