"""The WebSocket API on Lambda: API Gateway WebSocket events (``fixtures/apigw_ws/``) and
EventBridge FlightDataProcessed events through ``runtime.lambdas.websocket``.

Real engines where the code talks to one: flights and connections in DynamoDB Local, and
the real boto3 ``apigatewaymanagementapi`` client posting over HTTP to a stand-in of the
management API that records each message and closed connection and answers
``GoneException`` (410) for connections marked gone. (moto's own management API appends
every post of a connection to one blob and never answers Gone.)
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import urllib.parse
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from config import Settings
from devtools.dynamodb_local import DynamoDBLocal
from domain import FlightState
from live.processed_cycle import Cycle
from resolvers.root import build_schema
from runtime import lambdas
from runtime.stores import open_stores
from schema.context import Context, make_loaders
from schema.flight import Flight
from schema.live import FlightUpdateBatch
from security.keys import KeyService
from storage.dynamodb import open_dynamo_stores
from storage.dynamodb.connections import (
    DynamoConnectionRepository,
    SubscriptionRecord,
    ViewTooLarge,
    decode_view,
    encode_view,
)
from storage.dynamodb.tables import create_connections_table
from subscriptions.apigw import MAX_MESSAGE_BYTES
from subscriptions.operations import SnapshotHub, next_messages, prepare
from testkit import FIXTURES, make_state

EVENTS = FIXTURES / "apigw_ws"
CONNECTION = "Zq3fXc1VjoECF8w="
OTHER = "Zq3h1TbKjoECHQw="
FLIGHTS_OP = "6f1c0c57-8a0b-4c52-9d6e-0b3a8e2f4d11"
TRACK_OP = "b2d7e9a4-1f3c-4e58-a6b0-7c9d2e1f3a45"
NOW = datetime.now(UTC).replace(microsecond=0)


class _Context:
    function_name = "flightdata-dev-websocket-handler"
    aws_request_id = "4f1e2d3c-5b6a-4798-8a9b-0c1d2e3f4a5b"


# ---------------------------------------------------------------- the management API


class ManagementApiStandIn:
    """``POST``/``DELETE /{stage}/@connections/{id}`` on a loopback port, recorded."""

    def __init__(self) -> None:
        self.posted: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.closed: list[str] = []
        self.gone: set[str] = set()
        self.paths: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/dev"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _connection(self) -> str | None:
                stage, _, connection = self.path.partition("/@connections/")
                api.paths.add(stage)
                return urllib.parse.unquote(connection) if connection else None

            def _answer(self, status: int, body: bytes = b"", error: str = "") -> None:
                self.send_response(status)
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                connection = self._connection()
                data = self.rfile.read(int(self.headers["Content-Length"]))
                if connection is None:
                    self._answer(404)
                elif connection in api.gone:
                    self._answer(410, b'{"message":null}', "GoneException")
                else:
                    api.posted[connection].append(json.loads(data))
                    self._answer(200)

            def do_DELETE(self) -> None:
                connection = self._connection()
                if connection is None or connection in api.gone:
                    self._answer(410, b'{"message":null}', "GoneException")
                else:
                    api.closed.append(connection)
                    self._answer(204)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> ManagementApiStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def take(self, connection: str) -> list[dict[str, Any]]:
        """The messages posted to ``connection`` since the last take."""
        return self.posted.pop(connection, [])


# ---------------------------------------------------------------- fixtures


@dataclass
class Stack:
    api: ManagementApiStandIn
    connections: DynamoConnectionRepository
    put_states: Callable[[list[FlightState]], None]


@pytest.fixture
def stack(
    dynamodb_local: DynamoDBLocal, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    names = dynamodb_local.create(dynamodb_local.names(tmp_path))
    table = f"{names.ops}-connections"
    create_connections_table(dynamodb_local.client, table)
    env = {
        "FLIGHTDATA_BACKEND": "aws",
        "FLIGHTDATA_DATA_DIR": str(tmp_path / "data"),
        "DYNAMODB_ENDPOINT_URL": dynamodb_local.endpoint,
        "DYNAMODB_FLIGHTS_TABLE": names.flights,
        "DYNAMODB_AIRPORTS_TABLE": names.airports,
        "DYNAMODB_OPS_TABLE": names.ops,
        "DYNAMODB_CONNECTIONS_TABLE": table,
        "S3_RAW_BUCKET": "flightdata-storage-test",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "eu-west-1",
    }
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "REDIS_URL", "REDIS_CLUSTER_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    stores = open_dynamo_stores(dynamodb_local.client, names)
    repository = DynamoConnectionRepository(dynamodb_local.client, table)
    with ManagementApiStandIn() as api:
        monkeypatch.setenv("WEBSOCKET_API_ENDPOINT", api.endpoint)
        lambdas.reset_runtime()
        try:
            yield Stack(api, repository, lambda states: _put(stores.flights, states))
        finally:
            lambdas.reset_runtime()
            stores.close()
            repository.close()


def _put(flights: Any, states: list[FlightState]) -> None:
    flights.put_states(states)


def _event(name: str, *, connection: str = CONNECTION, body: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    if "requestContext" in event:
        event["requestContext"]["connectionId"] = connection
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def _handle(event: dict[str, Any]) -> dict[str, Any]:
    return lambdas.websocket(event, _Context())


def _processed(*codes: str, cycle: str = "opensky@20261127T100030.004512Z") -> dict[str, Any]:
    event = _event("eventbridge_flight_data_processed.json")
    event["detail"] |= {"cycle_id": cycle, "changed": list(codes), "stored": len(codes)}
    return event


def _ready(connection: str = CONNECTION) -> None:
    """$connect, then connection_init: an acknowledged connection."""
    assert _handle(_event("connect.json", connection=connection))["statusCode"] == 200
    _handle(_event("default_connection_init.json", connection=connection))


def _subscribe(body_of: str, connection: str = CONNECTION, **payload: Any) -> dict[str, Any]:
    event = _event(body_of, connection=connection)
    if payload:
        message = json.loads(event["body"])
        message["payload"] |= payload
        event["body"] = json.dumps(message)
    return _handle(event)


# The Alps box of the subscribe fixture: 45.5..48.0 N, 5.5..11.0 E.
def _zurich(at: datetime, **fields: Any) -> FlightState:
    fields = {"latitude": 47.45, "longitude": 8.56, **fields}
    return make_state("4b1806", time=at, callsign="SWR1", **fields)


def _munich(at: datetime, **fields: Any) -> FlightState:
    fields = {"latitude": 48.35, "longitude": 11.78, **fields}
    return make_state("3c6444", time=at, callsign="DLH2", **fields)


def _new_york(at: datetime) -> FlightState:
    return make_state("a0f1b2", time=at, callsign="AAL3", latitude=40.64, longitude=-73.78)


def _first_cycle(stack: Stack) -> None:
    at = NOW - timedelta(seconds=40)
    stack.put_states([_zurich(at), _munich(at), _new_york(at)])


# ---------------------------------------------------------------- $connect, protocol


def test_connect_echoes_the_subprotocol_and_stores_the_connection(stack: Stack) -> None:
    response = _handle(_event("connect.json"))

    assert response == {
        "statusCode": 200,
        "headers": {"Sec-WebSocket-Protocol": "graphql-transport-ws"},
    }
    stored = stack.connections.connection(CONNECTION)
    assert stored is not None
    assert (stored.endpoint, stored.acked) == (stack.api.endpoint, False)
    assert stored.connected_at == 1795600800.0


def test_connect_refuses_a_client_without_graphql_transport_ws(stack: Stack) -> None:
    event = _event("connect_graphql_ws_only.json")

    response = _handle(event)

    assert response["statusCode"] == 400
    assert "graphql-transport-ws" in response["body"]
    assert stack.connections.connection(event["requestContext"]["connectionId"]) is None


def test_connect_accepts_graphql_transport_ws_among_others(stack: Stack) -> None:
    event = _event("connect.json")
    event["headers"] = {"sec-websocket-protocol": "graphql-ws, graphql-transport-ws"}

    response = _handle(event)

    assert response["headers"] == {"Sec-WebSocket-Protocol": "graphql-transport-ws"}


def test_without_a_configured_endpoint_it_is_the_events_domain_and_stage(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WEBSOCKET_API_ENDPOINT")
    lambdas.reset_runtime()

    _handle(_event("connect.json"))

    stored = stack.connections.connection(CONNECTION)
    assert stored is not None
    assert stored.endpoint == "https://k3w7x2ab9c.execute-api.eu-west-1.amazonaws.com/dev"


def test_init_is_acknowledged_and_ping_answered(stack: Stack) -> None:
    _ready()
    _handle(_event("default_ping.json"))
    _handle(_event("default_ping.json", body={"type": "pong"}))

    assert stack.api.take(CONNECTION) == [{"type": "connection_ack"}, {"type": "pong"}]
    assert stack.api.paths == {"/dev"}
    stored = stack.connections.connection(CONNECTION)
    assert stored is not None
    assert stored.acked


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"payload": {}}',
        '{"type": "start", "id": "1"}',
        '{"type": "subscribe", "payload": {"query": "subscription { x }"}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": 7}}',
        '{"type": "subscribe", "id": "1", "payload": {"query": "{ x }", "variables": [1]}}',
        '{"type": "complete"}',
        '{"type": "connection_init", "payload": "token"}',
    ],
)
def test_a_message_outside_the_protocol_closes_the_connection(stack: Stack, body: str) -> None:
    _ready()
    stack.api.take(CONNECTION)

    assert _handle(_event("default_ping.json", body=body)) == {"statusCode": 200}

    assert stack.api.closed == [CONNECTION]
    assert stack.api.take(CONNECTION) == []
    assert stack.connections.connection(CONNECTION) is None


def test_a_second_init_closes_the_connection(stack: Stack) -> None:
    _ready()

    _handle(_event("default_connection_init.json"))

    assert stack.api.take(CONNECTION) == [{"type": "connection_ack"}]
    assert stack.api.closed == [CONNECTION]
    assert stack.connections.connection(CONNECTION) is None


def test_subscribe_before_init_closes_the_connection(stack: Stack) -> None:
    _handle(_event("connect.json"))

    _handle(_event("default_subscribe_flight_updates.json"))

    assert stack.api.take(CONNECTION) == []
    assert stack.api.closed == [CONNECTION]


def test_an_operation_id_in_use_closes_the_connection(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_flight_updates.json"))
    stack.api.take(CONNECTION)

    _handle(_event("default_subscribe_flight_updates.json"))

    assert stack.api.take(CONNECTION) == []
    assert stack.api.closed == [CONNECTION]
    assert stack.connections.subscriptions() == []


# ---------------------------------------------------------------- subscribe


def test_subscribe_sends_the_current_state_inside_the_filter_first(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    stack.api.take(CONNECTION)

    assert _handle(_event("default_subscribe_flight_updates.json")) == {"statusCode": 200}

    (message,) = stack.api.take(CONNECTION)
    assert message["type"] == "next"
    assert message["id"] == FLIGHTS_OP
    batch = message["payload"]["data"]["flightUpdates"]
    assert "errors" not in message["payload"]
    assert batch["snapshot"] is True
    assert batch["removed"] == []
    assert batch["flights"] == [
        {"icao24": "4b1806", "callsign": "SWR1", "latitude": 47.45, "longitude": 8.56}
    ]
    (stored,) = stack.connections.subscriptions()
    assert (stored.root_field, stored.bbox) == ("flightUpdates", (45.5, 5.5, 48.0, 11.0))
    assert stored.view == {"4b1806": (NOW - timedelta(seconds=40)).timestamp()}


def test_track_updates_start_with_the_latest_position(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    stack.api.take(CONNECTION)

    _handle(_event("default_subscribe_track_updates.json"))

    (message,) = stack.api.take(CONNECTION)
    assert message["id"] == TRACK_OP
    assert message["payload"]["data"]["trackUpdates"] == {
        "time": (NOW - timedelta(seconds=40)).isoformat(),
        "latitude": 47.45,
        "longitude": 8.56,
    }


def test_an_aircraft_never_seen_gets_no_first_result_but_is_followed(stack: Stack) -> None:
    _ready()
    stack.api.take(CONNECTION)

    _handle(_event("default_subscribe_track_updates.json"))

    assert stack.api.take(CONNECTION) == []
    (stored,) = stack.connections.subscriptions()
    assert (stored.root_field, stored.icao24, stored.last_time) == (
        "trackUpdates",
        frozenset({"4b1806"}),
        None,
    )


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"query": "subscription { flightUpdates { "}, "Syntax Error"),
        ({"query": "subscription { flightUpdates { altitude } }"}, "Cannot query field"),
        ({"query": "{ flights { totalCount } }"}, "Only subscriptions are served"),
        (
            {"query": "subscription($c: String!) { trackUpdates(icao24: $c) { time } }"},
            "Variable '$c' has invalid value",
        ),
        (
            {
                "query": "subscription($c: [String!]) { flightUpdates(icao24: $c) { cycleId } }",
                "variables": {"c": ["nothex"]},
            },
            "icao24 must be 6 hexadecimal digits",
        ),
        (
            {
                "query": "subscription($b: BoundingBoxInput) { flightUpdates(bbox: $b) { at } }",
                "variables": {"b": {"south": 50, "west": 0, "north": 40, "east": 1}},
            },
            "south (50.0) must not be greater than north (40.0)",
        ),
    ],
)
def test_a_bad_document_or_argument_gets_an_error_message(
    stack: Stack, payload: dict[str, Any], says: str
) -> None:
    _ready()
    stack.api.take(CONNECTION)

    _subscribe(
        "default_subscribe_flight_updates.json",
        **{"operationName": None, "variables": None, **payload},
    )

    (message,) = stack.api.take(CONNECTION)
    assert (message["type"], message["id"]) == ("error", FLIGHTS_OP)
    assert len(message["payload"]) == 1
    assert says in message["payload"][0]["message"]
    assert "Traceback" not in json.dumps(message)
    assert stack.api.closed == []
    assert stack.connections.subscriptions() == []


# ---------------------------------------------------------------- the fan-out


def test_a_cycle_reaches_a_matching_subscription_and_not_another(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_flight_updates.json"))
    _ready(OTHER)
    australia = {"bbox": {"south": -40, "west": 110, "north": -10, "east": 155}}
    _subscribe("default_subscribe_flight_updates.json", connection=OTHER, variables=australia)
    assert stack.api.take(OTHER)[-1]["payload"]["data"]["flightUpdates"]["flights"] == []
    stack.api.take(CONNECTION)
    at = NOW - timedelta(seconds=10)
    # Zurich moves inside the box, Munich enters it, New York stays away.
    stack.put_states(
        [_zurich(at, latitude=47.6), _munich(at, latitude=47.9, longitude=10.9), _new_york(at)]
    )

    summary = _handle(_processed("4b1806", "3c6444", "a0f1b2"))

    assert summary == {
        "cycle_id": "opensky@20261127T100030.004512Z",
        "subscriptions": 2,
        "sent": 1,
        "gone": 0,
    }
    (message,) = stack.api.take(CONNECTION)
    assert (message["type"], message["id"]) == ("next", FLIGHTS_OP)
    batch = message["payload"]["data"]["flightUpdates"]
    assert batch["cycleId"] == "opensky@20261127T100030.004512Z"
    assert batch["snapshot"] is False
    assert batch["removed"] == []
    assert sorted((f["icao24"], f["latitude"]) for f in batch["flights"]) == [
        ("3c6444", 47.9),
        ("4b1806", 47.6),
    ]
    assert stack.api.take(OTHER) == []


def test_the_view_is_kept_between_cycles_so_leavers_are_removed(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_flight_updates.json"))
    stack.api.take(CONNECTION)
    at = NOW - timedelta(seconds=10)
    stack.put_states([_zurich(at, latitude=49.5)])  # out of the box, north

    _handle(_processed("4b1806"))
    _handle(_processed("4b1806"))  # the same cycle again: nothing new to tell

    (message,) = stack.api.take(CONNECTION)
    batch = message["payload"]["data"]["flightUpdates"]
    assert (batch["flights"], batch["removed"]) == ([], ["4b1806"])
    (stored,) = stack.connections.subscriptions()
    assert stored.view == {}


def test_a_cycle_batch_says_when_the_cycle_started(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    query = "subscription { flightUpdates { cycleId at publishedAt flights { icao24 } } }"
    _subscribe(
        "default_subscribe_flight_updates.json", query=query, variables=None, operationName=None
    )
    stack.api.take(CONNECTION)
    stack.put_states([_zurich(NOW - timedelta(seconds=5))])

    _handle(_processed("4b1806"))

    (message,) = stack.api.take(CONNECTION)
    batch = message["payload"]["data"]["flightUpdates"]
    assert batch["at"] == "2026-11-27T10:00:30.004512+00:00"
    assert batch["publishedAt"] == "2026-11-27T10:00:32.418207+00:00"


def test_track_updates_get_each_new_position_once(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_track_updates.json"))
    stack.api.take(CONNECTION)
    later = NOW - timedelta(seconds=10)
    stack.put_states([_zurich(later, latitude=47.5)])

    _handle(_processed("4b1806", "3c6444"))
    _handle(_processed("4b1806", "3c6444"))

    (message,) = stack.api.take(CONNECTION)
    assert message["payload"]["data"]["trackUpdates"] == {
        "time": later.isoformat(),
        "latitude": 47.5,
        "longitude": 8.56,
    }


def test_field_resolvers_run_inside_a_fanned_out_batch(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    query = (
        'subscription { flightUpdates(icao24: ["4b1806"]) {'
        " flights { icao24 track { points { latitude } } } } }"
    )
    _subscribe(
        "default_subscribe_flight_updates.json", query=query, variables=None, operationName=None
    )
    stack.api.take(CONNECTION)
    stack.put_states([_zurich(NOW - timedelta(seconds=10), latitude=47.5)])

    _handle(_processed("4b1806"))

    (message,) = stack.api.take(CONNECTION)
    (flight,) = message["payload"]["data"]["flightUpdates"]["flights"]
    assert [p["latitude"] for p in flight["track"]["points"]] == [47.45, 47.5]


def test_complete_stops_a_subscription(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_flight_updates.json"))
    _handle(_event("default_subscribe_track_updates.json"))
    stack.api.take(CONNECTION)

    _handle(_event("default_complete.json"))
    stack.put_states([_zurich(NOW - timedelta(seconds=10), latitude=47.5)])
    _handle(_processed("4b1806"))

    (message,) = stack.api.take(CONNECTION)
    assert message["id"] == TRACK_OP
    assert [s.id for s in stack.connections.subscriptions()] == [TRACK_OP]
    assert stack.api.closed == []


def test_disconnect_deletes_the_connection_and_its_subscriptions(stack: Stack) -> None:
    _first_cycle(stack)
    _ready()
    _handle(_event("default_subscribe_flight_updates.json"))
    _handle(_event("default_subscribe_track_updates.json"))

    assert _handle(_event("disconnect.json")) == {"statusCode": 200}

    assert stack.connections.connection(CONNECTION) is None
    assert stack.connections.subscriptions() == []


def test_a_gone_connection_is_removed_by_the_fan_out(stack: Stack) -> None:
    _first_cycle(stack)
    for connection in (CONNECTION, OTHER):
        _ready(connection)
        _handle(_event("default_subscribe_flight_updates.json", connection=connection))
        stack.api.take(connection)
    stack.api.gone.add(OTHER)
    stack.put_states([_zurich(NOW - timedelta(seconds=10), latitude=47.5)])

    summary = _handle(_processed("4b1806"))

    assert (summary["sent"], summary["gone"]) == (1, 1)
    assert len(stack.api.take(CONNECTION)) == 1
    assert stack.connections.connection(OTHER) is None
    assert [s.connection_id for s in stack.connections.subscriptions()] == [CONNECTION]


def test_a_gone_connection_is_forgotten_when_answering_it(stack: Stack) -> None:
    _ready()
    stack.api.gone.add(CONNECTION)

    _handle(_event("default_ping.json"))

    assert stack.connections.connection(CONNECTION) is None


def test_a_stored_document_the_schema_no_longer_takes_ends_with_an_error(
    stack: Stack,
) -> None:
    _first_cycle(stack)
    _ready()
    stack.connections.add_subscription(
        SubscriptionRecord(
            connection_id=CONNECTION,
            id="old",
            root_field="flightUpdates",
            query="subscription { flightUpdates { flights { heading } } }",
            variables=None,
            operation_name=None,
            endpoint=stack.api.endpoint,
        )
    )
    stack.api.take(CONNECTION)

    _handle(_processed("4b1806"))

    (message,) = stack.api.take(CONNECTION)
    assert (message["type"], message["id"]) == ("error", "old")
    assert "Cannot query field 'heading'" in message["payload"][0]["message"]
    assert stack.connections.subscriptions() == []


def test_no_subscriptions_no_reads(stack: Stack) -> None:
    assert _handle(_processed("4b1806")) == {
        "cycle_id": "opensky@20261127T100030.004512Z",
        "subscriptions": 0,
    }


def test_anything_else_is_refused(stack: Stack) -> None:
    scheduled = json.loads((FIXTURES / "events" / "eventbridge_scheduled.json").read_text())

    with pytest.raises(ValueError, match="not a WebSocket route"):
        _handle(scheduled)


# ---------------------------------------------------------------- pieces


def test_views_are_stored_compact_and_exact() -> None:
    view = {f"{n * 7919 % 2**24:06x}": 1_795_600_000 + n / 7 for n in range(20_000)}

    blob = encode_view(view)

    assert decode_view(blob) == view
    assert len(blob) < 200_000
    assert decode_view(encode_view({})) == {}


def test_a_view_too_large_for_an_item_is_refused(stack: Stack) -> None:
    rng = random.Random(45)
    codes = rng.sample(range(2**24), 45_000)
    view = {f"{c:06x}": 1_795_600_000 + rng.uniform(0, 300) for c in codes}
    record = SubscriptionRecord(
        connection_id=CONNECTION,
        id="world",
        root_field="flightUpdates",
        query="subscription { flightUpdates { cycleId } }",
        variables=None,
        operation_name=None,
        endpoint=stack.api.endpoint,
        view=view,
    )

    with pytest.raises(ViewTooLarge, match="45000 aircraft"):
        stack.connections.add_subscription(record)

    assert stack.connections.subscriptions() == []


def test_a_cycle_id_without_a_start_time_falls_back_to_the_event_time() -> None:
    event = _processed("4b1806", cycle="cycle-7")

    cycle = Cycle.from_event(event)

    assert cycle.at == cycle.published_at == datetime(2026, 11, 27, 10, 0, 32, 418207, UTC)


def test_a_batch_too_large_for_one_message_is_split_into_valid_batches(
    settings: Settings,
) -> None:
    stores = open_stores(settings)
    schema = build_schema()
    hub = SnapshotHub(stores, last_cycle_id=None, live_window_s=300)
    context = Context(stores, settings, make_loaders(stores, settings), hub=hub)
    query = "subscription { flightUpdates { snapshot removed flights { icao24 callsign } } }"
    operation = prepare(schema, query, None, None, context)
    states = [make_state(f"{n:06x}", callsign=f"TEST{n}") for n in range(6000)]
    root = FlightUpdateBatch(
        cycle_id="c",
        at=NOW,
        published_at=NOW,
        flights=[Flight.from_state(s) for s in states],
        removed=["ffffff"],
        dropped_batches=0,
        snapshot=True,
    )
    try:
        messages = asyncio.run(next_messages(operation, "1", root))
    finally:
        stores.close()

    assert len(messages) > 1
    assert all(len(m) <= MAX_MESSAGE_BYTES for m in messages)
    batches = [orjson.loads(m)["payload"]["data"]["flightUpdates"] for m in messages]
    assert [b["snapshot"] for b in batches] == [True] + [False] * (len(batches) - 1)
    assert [b["removed"] for b in batches] == [["ffffff"]] + [[]] * (len(batches) - 1)
    assert [f["icao24"] for b in batches for f in b["flights"]] == [s.icao24 for s in states]


def test_without_anonymous_access_init_needs_a_valid_api_key(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As on the server: the key is the ``apiKey`` of the ``connection_init`` payload."""
    monkeypatch.setenv("FLIGHTDATA_ANONYMOUS", "false")
    lambdas.reset_runtime()
    rt = lambdas.websocket_api()
    issued = KeyService(rt.stores.api_keys, frozenset({"standard"})).create("dashboard")

    for connection, payload in (("nokey=", {}), ("badkey=", {"apiKey": "fd_nope"})):
        _handle(_event("connect.json", connection=connection))
        _handle(
            _event(
                "default_connection_init.json",
                connection=connection,
                body={"type": "connection_init", "payload": payload},
            )
        )
        assert stack.api.take(connection) == []
        assert connection in stack.api.closed

    _handle(_event("connect.json", connection="goodkey="))
    _handle(
        _event(
            "default_connection_init.json",
            connection="goodkey=",
            body={"type": "connection_init", "payload": {"apiKey": issued.key}},
        )
    )
    assert stack.api.take("goodkey=") == [{"type": "connection_ack"}]
