"""The ``analytics`` Lambda function on the AWS backend, against the moto server (S3) and
DynamoDB Local: a day ingested by the fetcher function becomes documents in the bucket,
which the API function then answers from, as it answers from the day's Parquet in S3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from devtools.aws_provision import AwsClients, AwsNames, provision
from devtools.dynamodb_local import DynamoDBLocal
from runtime import lambdas
from testkit import FIXTURES, aws_backend_env

if TYPE_CHECKING:
    from moto_server import MotoServer

    from storage.dynamodb import DynamoNames

pytest_plugins = ["moto_server"]
# Mangum keeps one event loop for the life of a Lambda container and never closes it.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("mangum_loops_closed"),
]

SNAPSHOT = FIXTURES / "opensky_states_bbox_alps_79.json"  # recorded 2026-07-29T14:14:07Z
EVENTS = FIXTURES / "events"
DAY = "2026-07-29"


class _Context:
    function_name = "flightdata-analytics-processor"
    aws_request_id = "5e0c1f9a-3b7d-4c55-9a44-0d6c7b1e2f33"


@pytest.fixture
def aws_env(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    dynamo_tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[str]:
    """The AWS backend with no processing queue (the fetcher processes in place); yields
    the bucket."""
    made = provision(
        AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events()), AwsNames.for_stage("an")
    )
    env = {
        **aws_backend_env(
            aws, dynamodb_local, dynamo_tables, made.bucket, tmp_path / "data", SNAPSHOT
        ),
        "FLIGHTDATA_LIVE_WINDOW": str(10**9),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lambdas.reset_runtime()
    yield made.bucket
    lambdas.reset_runtime()


def _scheduled(at: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    event["time"] = at
    return event


def _api(query: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "apigw_http_v2_graphql_post.json").read_text())
    event["body"] = json.dumps({"query": query})
    response = lambdas.LazyMangum()(event, _Context())
    assert response["statusCode"] == 200, response
    body: dict[str, Any] = json.loads(response["body"])
    assert "errors" not in body, body
    return body["data"]["analytics"]


def test_the_daily_function_writes_the_days_documents_to_s3(aws_env: str, aws: MotoServer) -> None:
    fetched = lambdas.fetcher(_scheduled("2026-07-29T14:14:30Z"), _Context())
    assert fetched["error"] is None
    assert fetched["stored"] == 78

    # Half an hour after midnight, as scheduled: the day before is done.
    result = lambdas.analytics(_scheduled("2026-07-30T00:30:00Z"), _Context())

    assert result["day"] == DAY
    assert result["states"] == 78
    s3 = aws.s3()
    listed = s3.list_objects_v2(Bucket=aws_env, Prefix="processed/")
    keys = {item["Key"] for item in listed["Contents"]}
    assert set(result["keys"]) <= keys
    summary = json.loads(
        s3.get_object(Bucket=aws_env, Key=f"processed/flights/aggregates/daily/{DAY}-summary.json")[
            "Body"
        ].read()
    )
    assert summary["day"] == DAY
    assert summary["regions"]["aircraft"] == 78
    assert {r["region"] for r in summary["regions"]["regions"] if r["aircraft"]} == {"europe"}


def test_the_api_answers_from_s3_parquet_then_from_the_documents(aws_env: str) -> None:
    lambdas.fetcher(_scheduled("2026-07-29T14:14:30Z"), _Context())
    query = f"""{{
      day: regionCounts(window: "{DAY}") {{ aircraft basis }}
      hours: regionCounts(window: "{DAY}T12:00:00Z/{DAY}T16:00:00Z") {{ aircraft basis }}
      countryCounts(window: "{DAY}") {{ aircraft basis }}
    }}"""

    before = _api(f"{{ analytics {query} }}")
    lambdas.analytics({"date": DAY}, _Context())
    after = _api(f"{{ analytics {query} }}")

    assert before == {
        "day": {"aircraft": 78, "basis": "PARQUET"},
        "hours": {"aircraft": 78, "basis": "PARQUET"},
        "countryCounts": {"aircraft": 78, "basis": "PARQUET"},
    }
    assert after == {
        "day": {"aircraft": 78, "basis": "DAILY_SUMMARY"},
        "hours": {"aircraft": 78, "basis": "PARQUET"},
        "countryCounts": {"aircraft": 78, "basis": "DAILY_SUMMARY"},
    }
