"""The SQS queue, the EventBridge bus and the SSM parameters on the moto server over HTTP,
and the ingest Lambda handlers running on S3 and SQS."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber

from config import ConfigError, Settings
from devtools.aws_provision import AwsClients, AwsNames, Provisioned, provision
from domain.events import (
    EVENT_TYPES,
    DataQualityAlert,
    Event,
    FlightDataProcessed,
    FlightDataReceived,
    RateLimitExceeded,
    SystemHealthCheck,
)
from ingestion.aws import (
    MAX_EVENTS_BYTES,
    AwsUnavailable,
    EventBridgeBus,
    ParameterMissing,
    SqsQueue,
    SsmParameters,
    opensky_parameter_names,
    ssm_credentials,
)
from runtime import lambdas
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from storage.base import StoreUnavailable
from storage.processed import ProcessedWriter
from storage.s3 import S3Archive, S3Sink
from testkit import FIXTURES

if TYPE_CHECKING:
    from moto_server import MotoServer
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef
    from mypy_boto3_ssm.client import SSMClient

pytest_plugins = ["moto_server"]

NAMES = AwsNames.for_stage("test")
FIXTURE = FIXTURES / "opensky_states_small_4_18field.json"
BODY = FIXTURE.read_bytes()
AT = datetime(2024, 1, 15, 14, 0, 5, tzinfo=UTC)
PREFIX = "/flightdata/test"


@pytest.fixture
def clients(aws: MotoServer) -> AwsClients:
    return AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events())


@pytest.fixture
def provisioned(clients: AwsClients) -> Provisioned:
    return provision(clients, NAMES)


@pytest.fixture
def events_url(provisioned: Provisioned) -> str:
    assert provisioned.events_queue_url is not None
    return provisioned.events_queue_url


def receive(sqs: SQSClient, url: str, *, want: int = 1, timeout_s: float = 5.0) -> list[Any]:
    """At least ``want`` messages from ``url`` (fewer on timeout), polling briefly."""
    messages: list[MessageTypeDef] = []
    deadline = time.monotonic() + timeout_s
    while len(messages) < want and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        messages += answer.get("Messages", [])
    return messages


def detail_types(sqs: SQSClient, url: str, want: int) -> list[str]:
    return [orjson.loads(m["Body"])["detail-type"] for m in receive(sqs, url, want=want)]


def count_requests(client: Any, event_name: str) -> list[object]:
    """Requests the client sends, recorded by a botocore hook (``before-send.ssm.*``)."""
    sent: list[object] = []
    client.meta.events.register(event_name, lambda request, **_: sent.append(request))
    return sent


def one_of_each() -> dict[type[Event], Event]:
    return {
        FlightDataReceived: FlightDataReceived(
            source="opensky", cycle_id="c1", bytes=812, archive_key="raw/x.json.gz"
        ),
        FlightDataProcessed: FlightDataProcessed(
            source="opensky", cycle_id="c1", received=4, stored=3, rejected=1, duplicates=0
        ),
        DataQualityAlert: DataQualityAlert(
            source="opensky", cycle_id="c1", reject_rate=0.25, threshold=0.1, reasons={"schema": 1}
        ),
        RateLimitExceeded: RateLimitExceeded(source="opensky", retry_after_s=30.0, remaining=0),
        SystemHealthCheck: SystemHealthCheck(status="ok", checks={"source": "opensky"}),
    }


# SQS


def test_sent_message_arrives_as_json(clients: AwsClients, provisioned: Provisioned) -> None:
    message = {"archive_key": "raw/x.json.gz", "source": "opensky", "cycle_id": "c1"}

    SqsQueue(clients.sqs, provisioned.queue_url).send(message)

    [received] = receive(clients.sqs, provisioned.queue_url)
    assert orjson.loads(received["Body"]) == message


def test_sending_to_a_missing_queue_is_aws_unavailable(aws: MotoServer) -> None:
    url = f"{aws.endpoint_url}/123456789012/no-such-queue"

    with pytest.raises(AwsUnavailable) as raised:
        SqsQueue(aws.sqs(), url).send({"archive_key": "raw/x"})

    assert raised.value.resource == url
    assert raised.value.code in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def test_sending_while_sqs_is_down_is_aws_unavailable(aws: MotoServer) -> None:
    queue = SqsQueue(aws.sqs(aws.dead_endpoint()), "http://127.0.0.1:1/123456789012/q")

    with pytest.raises(StoreUnavailable) as raised:
        queue.send({"archive_key": "raw/x"})

    assert isinstance(raised.value, AwsUnavailable)
    assert (raised.value.service, raised.value.code) == ("sqs", None)


# EventBridge


def test_every_event_type_arrives_in_sqs_with_its_detail(
    clients: AwsClients, provisioned: Provisioned, events_url: str
) -> None:
    events = one_of_each()
    bus = EventBridgeBus(clients.events, provisioned.bus_name)

    for event in events.values():
        bus.publish(event)

    assert set(events) == set(EVENT_TYPES)
    envelopes = [orjson.loads(m["Body"]) for m in receive(clients.sqs, events_url, want=5)]
    by_type = {e["detail-type"]: e for e in envelopes}
    assert len(envelopes) == len(by_type) == 5
    for event in events.values():
        envelope = by_type[event.detail_type]
        assert envelope["source"] == "flightdata"
        assert envelope["detail"] == orjson.loads(orjson.dumps(event.detail()))
    assert (bus.sent, bus.failed) == (5, 0)


def test_publish_many_sends_at_most_ten_per_call(
    clients: AwsClients, provisioned: Provisioned, events_url: str
) -> None:
    bus = EventBridgeBus(clients.events, provisioned.bus_name)
    calls = count_requests(clients.events, "before-send.events.PutEvents")
    events = [SystemHealthCheck(status="ok", checks={"n": str(i)}) for i in range(23)]

    accepted = bus.publish_many(events)

    assert (accepted, len(calls), bus.sent) == (23, 3, 23)
    assert len(detail_types(clients.sqs, events_url, want=23)) == 23


def test_refused_entries_are_counted_and_logged_not_raised(
    aws: MotoServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A partial failure is what moto cannot produce: botocore's Stubber answers instead.
    client = aws.events()
    bus = EventBridgeBus(client, "flightdata-test")
    refused = {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}
    with Stubber(client) as stub:
        stub.add_response(
            "put_events", {"FailedEntryCount": 1, "Entries": [{"EventId": "e1"}, refused]}
        )
        with caplog.at_level(logging.WARNING, logger="ingestion.aws"):
            accepted = bus.publish_many(list(one_of_each().values())[:2])

    assert (accepted, bus.sent, bus.failed) == (1, 1, 1)
    assert "InternalFailure" in caplog.text


def test_an_unreachable_bus_never_raises(aws: MotoServer) -> None:
    bus = EventBridgeBus(aws.events(aws.dead_endpoint()), "flightdata-test")

    bus.publish(SystemHealthCheck(status="ok", checks={}))

    assert (bus.sent, bus.failed) == (0, 1)


def test_a_missing_bus_never_raises(aws: MotoServer) -> None:
    bus = EventBridgeBus(aws.events(), "no-such-bus")

    assert bus.publish_many(list(one_of_each().values())) == 0
    assert (bus.sent, bus.failed) == (0, 5)


def test_an_event_over_the_size_limit_is_dropped_alone(
    clients: AwsClients, provisioned: Provisioned, events_url: str
) -> None:
    bus = EventBridgeBus(clients.events, provisioned.bus_name)
    huge = FlightDataProcessed(
        source="opensky",
        cycle_id="c1",
        received=300,
        stored=300,
        rejected=0,
        duplicates=0,
        changed=["x" * 1000] * 300,
    )
    small = SystemHealthCheck(status="ok", checks={})
    assert len(orjson.dumps(huge.detail())) > MAX_EVENTS_BYTES

    assert bus.publish_many([huge, small]) == 1

    assert (bus.sent, bus.failed) == (1, 1)
    assert detail_types(clients.sqs, events_url, want=1) == ["SystemHealthCheck"]


# SSM


@pytest.fixture
def ssm(aws: MotoServer) -> SSMClient:
    client = aws.ssm()
    for name, value in (("client_id", "flightdata-test"), ("client_secret", "s3cr3t")):
        client.put_parameter(Name=f"{PREFIX}/opensky/{name}", Value=value, Type="SecureString")
    return client


def test_secure_strings_are_decrypted_and_cached(ssm: SSMClient) -> None:
    requests = count_requests(ssm, "before-send.ssm.GetParameters")

    first = ssm_credentials(ssm, opensky_parameter_names(PREFIX))
    second = ssm_credentials(ssm, opensky_parameter_names(PREFIX + "/"))

    # Without decryption SSM would answer the ciphertext (moto: "kms:alias/aws/ssm:s3cr3t").
    assert (
        first
        == second
        == {"opensky_client_id": "flightdata-test", "opensky_client_secret": "s3cr3t"}
    )
    assert len(requests) == 1


def test_values_are_read_again_after_the_ttl(ssm: SSMClient) -> None:
    now = [1000.0]
    parameters = SsmParameters(ssm, ttl_s=300, clock=lambda: now[0])
    requests = count_requests(ssm, "before-send.ssm.GetParameters")
    names = {"secret": f"{PREFIX}/opensky/client_secret"}
    parameters.get(names)
    ssm.put_parameter(Name=names["secret"], Value="rotated", Type="SecureString", Overwrite=True)

    now[0] += 299.9
    before = parameters.get(names)
    now[0] += 0.1
    after = parameters.get(names)

    assert (before, after) == ({"secret": "s3cr3t"}, {"secret": "rotated"})
    assert len(requests) == 2


def test_a_missing_required_parameter_is_a_config_error(ssm: SSMClient) -> None:
    names = {**opensky_parameter_names(PREFIX), "opensky_password": f"{PREFIX}/opensky/password"}

    with pytest.raises(ConfigError) as raised:
        ssm_credentials(ssm, names)

    assert isinstance(raised.value, ParameterMissing)
    assert raised.value.names == (f"{PREFIX}/opensky/password",)


def test_a_missing_optional_parameter_is_left_out_and_remembered(ssm: SSMClient) -> None:
    parameters = SsmParameters(ssm)
    requests = count_requests(ssm, "before-send.ssm.GetParameters")
    names = {"opensky_username": f"{PREFIX}/opensky/username"}

    assert parameters.get(names, required=False) == {}
    assert parameters.get(names, required=False) == {}
    assert len(requests) == 1


def test_more_than_ten_names_take_several_requests(ssm: SSMClient) -> None:
    names = {f"p{i}": f"{PREFIX}/bulk/{i}" for i in range(12)}
    for key, name in names.items():
        ssm.put_parameter(Name=name, Value=key, Type="SecureString")
    requests = count_requests(ssm, "before-send.ssm.GetParameters")

    values = SsmParameters(ssm).get(names)

    assert values == {key: key for key in names}
    assert len(requests) == 2


def test_unreachable_ssm_is_aws_unavailable(aws: MotoServer) -> None:
    with pytest.raises(AwsUnavailable) as raised:
        ssm_credentials(aws.ssm(aws.dead_endpoint()), opensky_parameter_names(PREFIX))

    assert (raised.value.service, raised.value.code) == ("ssm", None)


# The ingest Lambda handlers on S3 and SQS


class _Context:
    function_name = "flight-data-processor"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def lambda_sqs_event(messages: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source hands the processor for ``messages``."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "eu-west-1",
            }
            for m in messages
        ]
    }


@pytest.fixture
def runtime(
    clients: AwsClients,
    provisioned: Provisioned,
    seeded_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[lambdas._Runtime]:
    """The handlers' runtime with the archive, Parquet, events and queue on AWS: what
    ``_get_runtime`` builds once the settings name them (see the AWS wiring notes)."""
    settings = replace(seeded_settings, source=f"file:{FIXTURE}")
    stores = replace(open_stores(settings), archive=S3Archive(clients.s3, provisioned.bucket))
    pipeline = build_pipeline(settings, stores, EventBridgeBus(clients.events, NAMES.bus))
    pipeline.processed = ProcessedWriter(S3Sink(clients.s3, provisioned.bucket))
    queue = SqsQueue(clients.sqs, provisioned.queue_url)
    rt = lambdas._Runtime(settings, stores, pipeline, queue)
    monkeypatch.setattr(lambdas, "_runtime", rt)
    yield rt
    stores.close()


def parquet_rows(clients: AwsClients, bucket: str) -> int:
    listed = clients.s3.list_objects_v2(Bucket=bucket, Prefix="processed/flights/")
    rows = 0
    for item in listed.get("Contents", []):
        body = clients.s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
        rows += pq.read_table(io.BytesIO(body)).num_rows
    return rows


def test_processor_reads_the_s3_body_named_by_an_sqs_message(
    runtime: lambdas._Runtime,
    clients: AwsClients,
    provisioned: Provisioned,
    events_url: str,
) -> None:
    key = runtime.stores.archive.put(BODY, source="opensky", received_at=AT)
    assert runtime.queue is not None
    runtime.queue.send({"archive_key": key, "source": "opensky", "cycle_id": "opensky@t1"})
    messages = receive(clients.sqs, provisioned.queue_url)

    result = lambdas.processor(lambda_sqs_event(messages, provisioned.queue_arn), _Context())

    assert result == {"batchItemFailures": []}
    [cycle] = runtime.stores.cycles.recent_cycles(5)
    assert (cycle.cycle_id, cycle.archive_key) == ("opensky@t1", key)
    assert (cycle.received, cycle.stored, cycle.rejected) == (4, 3, 1)
    assert parquet_rows(clients, provisioned.bucket) == 3
    assert "FlightDataProcessed" in detail_types(clients.sqs, events_url, want=2)


def test_processor_reports_a_message_whose_body_is_not_archived(
    runtime: lambdas._Runtime, clients: AwsClients, provisioned: Provisioned
) -> None:
    assert runtime.queue is not None
    missing = "raw/year=2024/month=01/day=15/hour=14/flights-20240115-140005.json.gz"
    runtime.queue.send({"archive_key": missing, "source": "opensky", "cycle_id": "opensky@t2"})
    [message] = receive(clients.sqs, provisioned.queue_url)

    result = lambdas.processor(lambda_sqs_event([message], provisioned.queue_arn), _Context())

    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}


def test_fetcher_archives_to_s3_and_queues_the_body_for_the_processor(
    runtime: lambdas._Runtime,
    clients: AwsClients,
    provisioned: Provisioned,
    events_url: str,
) -> None:
    fetched = lambdas.fetcher({}, _Context())

    assert fetched["queued"] is True
    [message] = receive(clients.sqs, provisioned.queue_url)
    assert orjson.loads(message["Body"]) == {
        "archive_key": fetched["archive_key"],
        "source": f"file:{FIXTURE}",
        "cycle_id": fetched["cycle_id"],
    }
    assert runtime.stores.archive.get(fetched["archive_key"]).body == BODY
    assert "FlightDataReceived" in detail_types(clients.sqs, events_url, want=1)

    result = lambdas.processor(lambda_sqs_event([message], provisioned.queue_arn), _Context())

    assert result == {"batchItemFailures": []}
    [cycle] = runtime.stores.cycles.recent_cycles(5)
    assert (cycle.cycle_id, cycle.stored) == (fetched["cycle_id"], 3)
