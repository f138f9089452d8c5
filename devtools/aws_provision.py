"""Creates the AWS resources of the ingest side, idempotently, for local stacks and tests.

``provision(session_or_clients, names)`` makes, or brings back in line when they exist:

- the data bucket (raw archive and Parquet; public access blocked, SSE-S3 encryption);
- the processing queue, whose messages are the fetcher's ``{"archive_key", "source",
  "cycle_id"}``, and its dead-letter queue: a message received ``max_receive_count`` (3)
  times without being deleted moves to the DLQ;
- the event bus, with one rule per event type (``domain.events.EVENT_TYPES``) matching
  ``source`` and ``detail-type``.

The rules route to a separate events queue, not to the processing queue: the processor
reads fetcher messages, and an EventBridge envelope would fail there three times and end
in the DLQ, while the fetcher already queues each body once (routing FlightDataReceived
there as well would process every body twice). The events queue is where the events can
be seen and consumed; ``events_queue=None`` makes the rules with no target, for a
deployment whose consumers add their own. A resource policy lets the rules send to it.

A real deployment makes the same resources from ``serverless.yml``; this module is for
``make run-aws-local`` (the moto server) and the tests. DynamoDB tables are made elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from botocore.exceptions import ClientError

from domain.events import EVENT_TYPES
from ingestion.aws import EVENT_SOURCE

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

# 6 x the processor's 900 s timeout, as AWS advises for a queue that Lambda consumes (the
# same as serverless.yml).
DEFAULT_VISIBILITY_TIMEOUT_S = 5400
DLQ_RETENTION_S = 14 * 24 * 3600  # the SQS maximum: time to look at what failed


@dataclass(frozen=True)
class AwsNames:
    """Names of the resources; ``for_stage`` gives the project's convention."""

    bucket: str
    queue: str
    dead_letter_queue: str
    bus: str
    events_queue: str | None
    max_receive_count: int = 3
    visibility_timeout_s: int = DEFAULT_VISIBILITY_TIMEOUT_S

    @classmethod
    def for_stage(cls, stage: str, *, service: str = "flightdata") -> AwsNames:
        base = f"{service}-{stage}"
        return cls(
            # Deployed buckets add the account and region (names are global); not locally.
            bucket=f"{service}-storage-{stage}",
            queue=f"{base}-processing",
            dead_letter_queue=f"{base}-processing-dlq",
            bus=base,
            events_queue=f"{base}-events",
        )


@dataclass(frozen=True)
class AwsClients:
    s3: S3Client
    sqs: SQSClient
    events: EventBridgeClient

    @classmethod
    def from_session(cls, session: Session, *, endpoint_url: str | None = None) -> AwsClients:
        return cls(
            s3=session.client("s3", endpoint_url=endpoint_url),
            sqs=session.client("sqs", endpoint_url=endpoint_url),
            events=session.client("events", endpoint_url=endpoint_url),
        )


@dataclass(frozen=True)
class Provisioned:
    """What ``provision`` made: the values the settings need (``S3_RAW_BUCKET``,
    ``PROCESSING_QUEUE_URL``, ``EVENTBRIDGE_BUS_NAME``) and the ARNs."""

    bucket: str
    queue_url: str
    queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    bus_name: str
    bus_arn: str
    events_queue_url: str | None
    rule_arns: dict[str, str] = field(default_factory=dict)


def provision(
    session_or_clients: Session | AwsClients,
    names: AwsNames,
    *,
    endpoint_url: str | None = None,
) -> Provisioned:
    """Create what is missing and align what exists; safe to run on every start."""
    clients = (
        session_or_clients
        if isinstance(session_or_clients, AwsClients)
        else AwsClients.from_session(session_or_clients, endpoint_url=endpoint_url)
    )
    ensure_bucket(clients.s3, names.bucket)
    dlq_url, dlq_arn = ensure_queue(
        clients.sqs, names.dead_letter_queue, {"MessageRetentionPeriod": str(DLQ_RETENTION_S)}
    )
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(names.max_receive_count)}
    queue_url, queue_arn = ensure_queue(
        clients.sqs,
        names.queue,
        {
            "RedrivePolicy": json.dumps(redrive),
            "VisibilityTimeout": str(names.visibility_timeout_s),
        },
    )
    bus_arn = ensure_bus(clients.events, names.bus)
    rule_arns = ensure_rules(clients.events, names.bus)
    events_url = None
    if names.events_queue is not None:
        events_url = route_to_queue(clients, names.bus, rule_arns, names.events_queue)
    return Provisioned(
        bucket=names.bucket,
        queue_url=queue_url,
        queue_arn=queue_arn,
        dead_letter_queue_url=dlq_url,
        dead_letter_queue_arn=dlq_arn,
        bus_name=names.bus,
        bus_arn=bus_arn,
        events_queue_url=events_url,
        rule_arns=rule_arns,
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def ensure_bucket(s3: S3Client, bucket: str) -> None:
    region = s3.meta.region_name
    try:
        if region == "us-east-1":
            # us-east-1 is the one region that refuses its own name as a constraint.
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={
                    "LocationConstraint": cast("BucketLocationConstraintType", region)
                },
            )
    except ClientError as exc:
        if _code(exc) != "BucketAlreadyOwnedByYou":
            raise
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )


def ensure_queue(
    sqs: SQSClient, name: str, attributes: Mapping[QueueAttributeNameType, str]
) -> tuple[str, str]:
    """The queue's URL and ARN, creating it or setting ``attributes`` on it."""
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except ClientError as exc:
        if _code(exc) not in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}:
            raise
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    else:
        # CreateQueue refuses an existing name with other attributes; this converges.
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url, queue_arn(sqs, url)


def queue_arn(sqs: SQSClient, url: str) -> str:
    answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return answer["Attributes"]["QueueArn"]


def ensure_bus(events: EventBridgeClient, name: str) -> str:
    try:
        return events.create_event_bus(Name=name)["EventBusArn"]
    except ClientError as exc:
        if _code(exc) != "ResourceAlreadyExistsException":
            raise
    return events.describe_event_bus(Name=name)["Arn"]


def ensure_rules(events: EventBridgeClient, bus: str) -> dict[str, str]:
    """One rule per event type, named after it (rule names are per bus); their ARNs."""
    arns: dict[str, str] = {}
    for event_type in EVENT_TYPES:
        pattern = {"source": [EVENT_SOURCE], "detail-type": [event_type.detail_type]}
        arns[event_type.detail_type] = events.put_rule(
            Name=event_type.detail_type,
            EventBusName=bus,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description=f"{event_type.detail_type} events of {EVENT_SOURCE}",
        )["RuleArn"]
    return arns


def route_to_queue(clients: AwsClients, bus: str, rule_arns: dict[str, str], name: str) -> str:
    """Make queue ``name``, let the rules send to it, and target it from each rule."""
    url, arn = ensure_queue(clients.sqs, name, {})
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeRules",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": sorted(rule_arns.values())}},
            }
        ],
    }
    clients.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    for rule in rule_arns:
        clients.events.put_targets(
            Rule=rule, EventBusName=bus, Targets=[{"Id": "events-queue", "Arn": arn}]
        )
    return url
