"""Provisioning the ingest resources on the moto server: bucket, queue and DLQ, bus and
rules; the DLQ redrive and the rule routing, observed over HTTP."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from devtools.aws_provision import AwsClients, AwsNames, Provisioned, provision
from domain.events import EVENT_TYPES

if TYPE_CHECKING:
    from moto_server import MotoServer
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

pytest_plugins = ["moto_server"]

NAMES = AwsNames.for_stage("test")


@pytest.fixture
def clients(aws: MotoServer) -> AwsClients:
    return AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events())


@pytest.fixture
def provisioned(clients: AwsClients) -> Provisioned:
    return provision(clients, NAMES)


def poll(receive: Callable[[], list[MessageTypeDef]], timeout_s: float = 5.0) -> list[Any]:
    """Messages from ``receive``, retried briefly: delivery need not be instant."""
    deadline = time.monotonic() + timeout_s
    while not (messages := receive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return messages


def receive(sqs: SQSClient, url: str, *, visibility_timeout: int = 30) -> list[MessageTypeDef]:
    answer = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=visibility_timeout,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    )
    return answer.get("Messages", [])


def test_names_follow_the_stage() -> None:
    names = AwsNames.for_stage("test")

    assert names == AwsNames(
        bucket="flightdata-storage-test",
        queue="flightdata-test-processing",
        dead_letter_queue="flightdata-test-processing-dlq",
        bus="flightdata-test",
        events_queue="flightdata-test-events",
    )


def test_bucket_is_private_and_encrypted(clients: AwsClients, provisioned: Provisioned) -> None:
    s3 = clients.s3

    assert provisioned.bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    block = s3.get_public_access_block(Bucket=NAMES.bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    [rule] = s3.get_bucket_encryption(Bucket=NAMES.bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_queue_redrives_to_its_dlq_after_three_receives(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=provisioned.queue_url, AttributeNames=["All"]
    )["Attributes"]

    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": provisioned.dead_letter_queue_arn,
        "maxReceiveCount": 3,
    }
    assert provisioned.queue_url.endswith("/flightdata-test-processing")
    assert provisioned.dead_letter_queue_arn.endswith(":flightdata-test-processing-dlq")


def test_a_message_received_three_times_moves_to_the_dlq(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    sqs = clients.sqs
    sqs.send_message(QueueUrl=provisioned.queue_url, MessageBody='{"archive_key": "raw/x"}')

    counts = []
    for _ in range(3):
        # Received and never deleted, as when the processor fails; visible again at once.
        [message] = poll(lambda: receive(sqs, provisioned.queue_url, visibility_timeout=0))
        counts.append(message["Attributes"]["ApproximateReceiveCount"])

    # The fourth receive finds the count spent: SQS moves the message instead.
    assert receive(sqs, provisioned.queue_url, visibility_timeout=0) == []
    [dead] = poll(lambda: receive(sqs, provisioned.dead_letter_queue_url))
    assert counts == ["1", "2", "3"]
    assert dead["Body"] == '{"archive_key": "raw/x"}'


def test_one_rule_per_event_type_routes_to_the_events_queue(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    events = clients.events
    names = {t.detail_type for t in EVENT_TYPES}

    rules = events.list_rules(EventBusName=NAMES.bus)["Rules"]

    assert {r["Name"] for r in rules} == names == set(provisioned.rule_arns)
    for rule in rules:
        assert json.loads(rule["EventPattern"]) == {
            "source": ["flightdata"],
            "detail-type": [rule["Name"]],
        }
        [target] = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=NAMES.bus)["Targets"]
        assert target["Arn"].endswith(":flightdata-test-events")


def test_each_event_type_arrives_in_the_events_queue_and_nothing_else_does(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    assert provisioned.events_queue_url is not None
    entries: list[PutEventsRequestEntryTypeDef] = [
        {
            "Source": "flightdata",
            "DetailType": t.detail_type,
            "Detail": "{}",
            "EventBusName": NAMES.bus,
        }
        for t in EVENT_TYPES
    ]
    # Another application's event of the same name is not ours to route.
    stranger: PutEventsRequestEntryTypeDef = {**entries[0], "Source": "other"}

    answer = clients.events.put_events(Entries=[*entries, stranger])

    assert answer["FailedEntryCount"] == 0
    arrived: list[str] = []
    deadline = time.monotonic() + 5
    while len(arrived) < len(EVENT_TYPES) and time.monotonic() < deadline:
        arrived += [
            json.loads(m["Body"])["detail-type"]
            for m in receive(clients.sqs, provisioned.events_queue_url)
        ]
    assert sorted(arrived) == sorted(t.detail_type for t in EVENT_TYPES)
    assert receive(clients.sqs, provisioned.events_queue_url) == []
    # The processing queue only ever gets the fetcher's messages.
    assert receive(clients.sqs, provisioned.queue_url) == []


def test_the_events_queue_lets_only_the_rules_send(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    assert provisioned.events_queue_url is not None
    policy = json.loads(
        clients.sqs.get_queue_attributes(
            QueueUrl=provisioned.events_queue_url, AttributeNames=["Policy"]
        )["Attributes"]["Policy"]
    )

    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnEquals"]["aws:SourceArn"] == sorted(
        provisioned.rule_arns.values()
    )


def test_provisioning_again_changes_nothing_and_restores_drift(
    clients: AwsClients, provisioned: Provisioned
) -> None:
    clients.sqs.set_queue_attributes(
        QueueUrl=provisioned.queue_url, Attributes={"VisibilityTimeout": "5"}
    )

    again = provision(clients, NAMES)

    assert again == provisioned
    attributes = clients.sqs.get_queue_attributes(
        QueueUrl=provisioned.queue_url, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]
    assert attributes["VisibilityTimeout"] == str(NAMES.visibility_timeout_s)
    assert len(clients.events.list_rules(EventBusName=NAMES.bus)["Rules"]) == len(EVENT_TYPES)


def test_rules_without_an_events_queue_have_no_target(clients: AwsClients) -> None:
    names = replace(NAMES, events_queue=None)

    provisioned = provision(clients, names)

    assert provisioned.events_queue_url is None
    for rule in provisioned.rule_arns:
        assert (
            clients.events.list_targets_by_rule(Rule=rule, EventBusName=names.bus)["Targets"] == []
        )


def test_provisions_from_a_boto3_session(aws: MotoServer) -> None:
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=aws.region
    )

    provisioned = provision(session, NAMES, endpoint_url=aws.endpoint_url)

    assert provisioned.bus_arn.endswith(":event-bus/flightdata-test")


def test_a_moto_server_that_cannot_start_fails_loudly() -> None:
    from moto_server import MotoServer, MotoServerError

    server = MotoServer(command=[sys.executable, "-c", "print('no moto here'); exit(3)"])

    with pytest.raises(MotoServerError, match="no moto here"):
        server.start()
