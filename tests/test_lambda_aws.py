"""The Lambda functions on the AWS backend, end to end, against local engines.

The fetcher (scheduled event) archives a recorded snapshot to S3 and queues it on SQS;
the processor is fed the SQS message the fetcher sent; the API function is fed API
Gateway HTTP API (v2) events through Mangum. Its answers must equal those of the embedded
default for the same snapshot.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from config import Settings
from devtools.aws_provision import AwsClients, AwsNames, provision
from devtools.dynamodb_local import DynamoDBLocal
from ingestion.reference import seed_airports
from runtime import lambdas
from runtime.stores import open_stores
from testkit import FIXTURES, aws_backend_env

if TYPE_CHECKING:
    from moto_server import MotoServer

    from storage.dynamodb import DynamoNames

pytest_plugins = ["moto_server"]
# Mangum keeps one event loop for the life of a Lambda container and never closes it;
# in a test process it is collected unclosed, which is not a fault of the code under test.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("mangum_loops_closed"),
]

SNAPSHOT = FIXTURES / "opensky_states_bbox_alps_79.json"
EVENTS = FIXTURES / "events"
QUERY = (
    "{ flights(first: 100) { totalCount nodes { icao24 callsign latitude longitude"
    ' baroAltitudeM onGround source phase } } flight(icao24: "4b1806") { callsign }'
    ' airport(code: "GVA") { icao name } }'
)


class _Context:
    function_name = "flightdata"
    aws_request_id = "0d7e1ea2-4a53-4b0e-9f0a-2b1c3d4e5f60"


def _api_event() -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "apigw_http_v2_graphql_post.json").read_text())
    event["body"] = json.dumps({"query": QUERY})
    return event


def _answer(handler: Any) -> dict[str, Any]:
    response = handler(_api_event(), _Context())
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def aws_env(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    dynamo_tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    made = provision(
        AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events()), AwsNames.for_stage("e2e")
    )
    env = {
        **aws_backend_env(
            aws, dynamodb_local, dynamo_tables, made.bucket, tmp_path / "data", SNAPSHOT
        ),
        "FLIGHTDATA_LIVE_WINDOW": str(10**9),
        "PROCESSING_QUEUE_URL": made.queue_url,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lambdas.reset_runtime()
    yield {**env, "queue_arn": made.queue_arn}
    lambdas.reset_runtime()


def _embedded_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name in ("FLIGHTDATA_BACKEND", "S3_RAW_BUCKET", "PROCESSING_QUEUE_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(tmp_path / "embedded"))
    lambdas.reset_runtime()
    stores = open_stores(Settings.from_env())
    try:
        seed_airports(stores)
    finally:
        stores.close()
    result = lambdas.fetcher(
        json.loads((EVENTS / "eventbridge_scheduled.json").read_text()), _Context()
    )
    assert result["error"] is None
    lambdas.reset_runtime()
    return _answer(lambdas.LazyMangum())


def test_fetcher_processor_and_api_answer_as_the_embedded_default(
    aws_env: dict[str, str], aws: MotoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduled = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    fetched = lambdas.fetcher(scheduled, _Context())
    assert fetched["queued"] is True

    sqs = aws.sqs()
    messages = sqs.receive_message(QueueUrl=aws_env["PROCESSING_QUEUE_URL"], MaxNumberOfMessages=10)
    [message] = messages["Messages"]
    assert orjson.loads(message["Body"])["archive_key"] == fetched["archive_key"]
    event = {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": aws_env["queue_arn"],
                "awsRegion": "eu-west-1",
            }
        ]
    }
    assert lambdas.processor(event, _Context()) == {"batchItemFailures": []}

    on_aws = _answer(lambdas.LazyMangum())
    assert on_aws["flights"]["totalCount"] == 78
    assert on_aws == _embedded_answer(tmp_path, monkeypatch)
