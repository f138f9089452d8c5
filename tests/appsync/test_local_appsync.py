"""The AppSync API on the local simulator, over real sockets: queries answered by the
resolver equal the HTTP API's, and a subscriber connected with gql's
``AppSyncWebsocketsTransport`` receives the batches the publisher sends after the
fetcher -> SQS -> processor chain has run on the local engines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import httpx
import orjson
import pytest
from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from gql.transport.exceptions import TransportQueryError

from appsync.tiles import tile_of
from config import Settings
from devtools.appsync_local import SIMULATOR
from devtools.appsync_local import appsync as local_appsync
from devtools.aws_provision import AwsClients, AwsNames, provision
from devtools.dynamodb_local import DynamoDBLocal
from runtime import appsync_lambdas, lambdas
from runtime.stores import open_stores
from security.keys import KeyService
from security.ratelimit import tiers_from
from testkit import FIXTURES, aws_backend_env

if TYPE_CHECKING:
    from moto_server import MotoServer

    from storage.dynamodb import DynamoNames

pytest_plugins = ["moto_server"]
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = FIXTURES / "opensky_states_bbox_alps_79.json"
EVENTS = FIXTURES / "events"
QUERY = (
    "{ flights(first: 100) { totalCount nodes { icao24 callsign latitude longitude"
    ' onGround source } } airport(code: "GVA") { icao name } }'
)
SUBSCRIPTION = (
    "subscription($bbox: BoundingBoxInput) { flightUpdates(bbox: $bbox) "
    "{ cycleId flights { icao24 latitude longitude lastContact } removed snapshot } }"
)
NAMED = (
    "subscription($icao24: [String!]) { flightUpdates(icao24: $icao24) "
    "{ cycleId flights { icao24 latitude longitude lastContact } removed snapshot } }"
)
TRACK = (
    "subscription($icao24: String!) { trackUpdates(icao24: $icao24) "
    "{ time latitude longitude baroAltitudeM onGround } }"
)


class _Context:
    function_name = "flightdata"
    aws_request_id = "5e0c8a51-2b6f-4d1a-9a0e-3f2b1c4d5e6f"


@pytest.fixture
def aws_env(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    dynamo_tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    made = provision(
        AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events()), AwsNames.for_stage("appsync")
    )
    assert made.events_queue_url is not None
    env = {
        **aws_backend_env(
            aws, dynamodb_local, dynamo_tables, made.bucket, tmp_path / "data", SNAPSHOT
        ),
        "FLIGHTDATA_ANONYMOUS": "false",
        "FLIGHTDATA_LIVE_WINDOW": str(10**9),
        "PROCESSING_QUEUE_URL": made.queue_url,
        "EVENTBRIDGE_BUS_NAME": made.bus_name,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    stores = open_stores(settings)
    try:
        tiers = frozenset(tiers_from(settings.rate_tiers))
        key = KeyService(stores.api_keys, tiers).create("e2e", scope="admin").key
    finally:
        stores.close()
    lambdas.reset_runtime()
    appsync_lambdas.reset_runtime()
    yield {**env, "key": key, "queue_arn": made.queue_arn, "events_url": made.events_queue_url}
    lambdas.reset_runtime()
    appsync_lambdas.reset_runtime()


@pytest.fixture
def appsync(aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    assert SIMULATOR.is_file()
    assert (ROOT / "node_modules" / "@aws-amplify" / "amplify-appsync-simulator").is_dir(), (
        "the AppSync simulator is not installed: npm ci (make test does it)"
    )
    monkeypatch.setenv("APPSYNC_GRAPHQL_URL", "")  # restored after: appsync() sets it
    with local_appsync(aws_env["key"]) as urls:
        yield urls


def _run_chain(aws: MotoServer, aws_env: dict[str, str]) -> dict[str, Any]:
    """fetcher -> SQS -> processor; the FlightDataProcessed event the bus routed."""
    scheduled = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    fetched = lambdas.fetcher(scheduled, _Context())
    assert fetched["queued"] is True
    sqs = aws.sqs()
    [message] = sqs.receive_message(QueueUrl=aws_env["PROCESSING_QUEUE_URL"])["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "eventSource": "aws:sqs",
        "eventSourceARN": aws_env["queue_arn"],
    }
    assert lambdas.processor({"Records": [record]}, _Context()) == {"batchItemFailures": []}
    for _ in range(10):
        received = sqs.receive_message(QueueUrl=aws_env["events_url"], MaxNumberOfMessages=10)
        for event in (orjson.loads(m["Body"]) for m in received.get("Messages", [])):
            if event.get("detail-type") == "FlightDataProcessed":
                return dict(event)
    raise AssertionError("no FlightDataProcessed event on the bus")


def _post(urls: dict[str, str], key: str, query: str) -> dict[str, Any]:
    answer = httpx.post(urls["appsyncUrl"], headers={"x-api-key": key}, json={"query": query})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_queries_answer_as_the_http_api(
    appsync: dict[str, str], aws_env: dict[str, str], aws: MotoServer
) -> None:
    _run_chain(aws, aws_env)
    event = json.loads((EVENTS / "apigw_http_v2_graphql_post.json").read_text())
    event["body"] = json.dumps({"query": QUERY})
    event["headers"]["x-api-key"] = aws_env["key"]
    over_http = json.loads(lambdas.LazyMangum()(event, _Context())["body"])

    over_appsync = _post(appsync, aws_env["key"], QUERY)

    assert "errors" not in over_appsync, over_appsync
    assert over_appsync == over_http
    assert over_appsync["data"]["flights"]["totalCount"] == 78


def test_a_key_the_store_does_not_hold_is_refused(
    appsync: dict[str, str], aws_env: dict[str, str]
) -> None:
    answer = httpx.post(
        appsync["appsyncUrl"], headers={"x-api-key": aws_env["key"] + "x"}, json={"query": QUERY}
    )
    assert answer.status_code == 401


Received = dict[str, list[dict[str, Any]]]
Ready = Callable[[Received], bool]


def _got(*names: str) -> Ready:
    """Ready once each of ``names`` has received a result."""
    return lambda got: all(got[name] for name in names)


async def _receive(
    urls: dict[str, str],
    key: str,
    subscriptions: dict[str, GraphQLRequest],
    ready: Ready,
    publish: Any,
) -> dict[str, list[dict[str, Any]]]:
    """What each subscription receives, over one connection. The publication is repeated
    until ``ready`` holds of what was received: the protocol does not tell when the
    simulator has registered a subscription, nor when the resolver has recorded all the
    aircraft a subscription watches (one item each)."""
    host = urlparse(urls["appsyncUrl"]).netloc
    transport = AppSyncWebsocketsTransport(
        url=urls["appsyncRealtimeUrl"], auth=AppSyncApiKeyAuthentication(host=host, api_key=key)
    )
    got: dict[str, list[dict[str, Any]]] = {name: [] for name in subscriptions}
    first = asyncio.Event()
    async with Client(transport=transport) as session:

        async def listen(name: str, request: GraphQLRequest) -> None:
            async for result in session.subscribe(request):
                [value] = result.values()
                got[name].append(value)
                if ready(got):
                    first.set()

        listening = [asyncio.create_task(listen(n, r)) for n, r in subscriptions.items()]
        for _ in range(20):
            await asyncio.to_thread(publish)
            try:
                await asyncio.wait_for(first.wait(), 0.5)
                break
            except TimeoutError:
                continue
        await asyncio.sleep(0.5)  # the rest of the publication
        for task in listening:
            task.cancel()
    return got


def _published(
    urls: dict[str, str],
    key: str,
    processed: dict[str, Any],
    subscriptions: dict[str, GraphQLRequest],
    ready: Ready,
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, Any]]:
    """What each subscription receives of the publications of ``processed``, and the
    publisher's summary of the last."""
    summaries: list[dict[str, Any]] = []

    def publish() -> None:
        summaries.append(appsync_lambdas.publisher(processed, _Context()))

    got = asyncio.run(_receive(urls, key, subscriptions, ready, publish))
    return got, summaries[-1]


def test_a_subscriber_receives_the_tiles_of_its_box(
    appsync: dict[str, str], aws_env: dict[str, str], aws: MotoServer
) -> None:
    processed = _run_chain(aws, aws_env)
    _post(appsync, aws_env["key"], "{ pipelineStatus { deadLetterCount } }")  # warm
    boxes = {
        "geneva": {"south": 46.0, "west": 6.0, "north": 46.5, "east": 6.5},
        "sydney": {"south": -34.5, "west": 150.5, "north": -33.5, "east": 151.5},
        "everything": None,
    }
    subscriptions = {
        name: GraphQLRequest(SUBSCRIPTION, variable_values={"bbox": bbox})
        for name, bbox in boxes.items()
    }
    got, summary = _published(appsync, aws_env["key"], processed, subscriptions, _got("everything"))

    assert summary == {
        "cycle_id": processed["detail"]["cycle_id"],
        "tiles": 1,
        "batches": 1,
        "aircraft_batches": 0,
        "tracks": 0,
        "failed": 0,
        "aircraft": 78,
    }
    assert got["everything"], "no batch reached the subscriber"
    [batch, *_] = got["everything"]
    assert batch["cycleId"] == processed["detail"]["cycle_id"]
    assert len(batch["flights"]) == 78
    assert {tile_of(f["latitude"], f["longitude"]) for f in batch["flights"]} == {"9.12"}
    assert got["geneva"][0] == batch  # the box's tile
    assert got["sydney"] == []  # no tile of its box had changes


def test_a_subscriber_naming_aircraft_receives_their_batches_alone(
    appsync: dict[str, str], aws_env: dict[str, str], aws: MotoServer
) -> None:
    processed = _run_chain(aws, aws_env)
    first, second, *_ = sorted(processed["detail"]["changed"])
    subscriptions = {
        "named": GraphQLRequest(NAMED, variable_values={"icao24": [first, second.upper()]}),
        "everything": GraphQLRequest(SUBSCRIPTION, variable_values={"bbox": None}),
    }

    def both_named(got: Received) -> bool:
        named = {f["icao24"] for batch in got["named"] for f in batch["flights"]}
        return named == {first, second} and bool(got["everything"])

    got, summary = _published(appsync, aws_env["key"], processed, subscriptions, both_named)

    assert summary["aircraft_batches"] == 2
    assert summary["tracks"] == 0  # no trackUpdates subscription watches them
    assert summary["failed"] == 0
    named = {f["icao24"] for batch in got["named"] for f in batch["flights"]}
    assert named == {first, second}
    assert all(len(batch["flights"]) == 1 for batch in got["named"])
    # the tile's batches, not the aircraft published alone a second time
    assert got["everything"]
    assert all(len(batch["flights"]) == 78 for batch in got["everything"])


def test_a_track_subscriber_receives_the_new_positions_of_its_aircraft(
    appsync: dict[str, str], aws_env: dict[str, str], aws: MotoServer
) -> None:
    processed = _run_chain(aws, aws_env)
    watched, other, *_ = sorted(processed["detail"]["changed"])
    subscriptions = {
        code: GraphQLRequest(TRACK, variable_values={"icao24": code}) for code in (watched, other)
    }
    got, summary = _published(
        appsync, aws_env["key"], processed, subscriptions, _got(watched, other)
    )

    assert summary["tracks"] == 2  # the two watched aircraft, not the 78 that moved
    assert summary["failed"] == 0
    stores = open_stores(Settings.from_env())
    try:
        states = stores.flights.latest_many([watched, other])
    finally:
        stores.close()
    for code in (watched, other):
        assert got[code], f"no track point of {code} reached its subscriber"
        state = states[code]
        assert got[code][0] == {
            "time": state.time.isoformat().replace("+00:00", "Z"),
            "latitude": state.latitude,
            "longitude": state.longitude,
            "baroAltitudeM": state.baro_altitude_m,
            "onGround": state.on_ground,
        }
        assert all(point == got[code][0] for point in got[code])  # its own aircraft only


def test_a_track_subscription_with_a_bad_aircraft_gets_the_error(
    appsync: dict[str, str], aws_env: dict[str, str]
) -> None:
    async def subscribe() -> None:
        host = urlparse(appsync["appsyncUrl"]).netloc
        auth = AppSyncApiKeyAuthentication(host=host, api_key=aws_env["key"])
        transport = AppSyncWebsocketsTransport(url=appsync["appsyncRealtimeUrl"], auth=auth)
        async with Client(transport=transport) as session:
            request = GraphQLRequest(TRACK, variable_values={"icao24": "nothex"})
            async for _ in session.subscribe(request):
                break

    with pytest.raises(TransportQueryError) as raised:
        asyncio.run(asyncio.wait_for(subscribe(), 10))
    assert "icao24 must be 6 hexadecimal digits" in str(raised.value)
