"""What the deployed functions publish and where the fetcher fetches from, on the moto
server (S3, SQS, EventBridge, SSM) and DynamoDB Local, as on AWS:

- the fetcher's SystemHealthCheck and the API's RateLimitExceeded reach the EventBridge bus
  (its rules send every event to a queue the test reads);
- the processor retires the cached flights pages in Redis when a cycle stored states;
- after N failed cycles of its source the fetcher takes the backup's bodies, and the
  source's again once it answers a probe; the backup's key comes from SSM.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest
import redis
from testredis import redis_url

from config import Settings
from devtools.aws_provision import AwsClients, AwsNames, provision
from devtools.dynamodb_local import DynamoDBLocal
from runtime import lambdas
from runtime.ingest import with_ssm_credentials
from storage.redis.cache import GENERATION_KEY
from testkit import FIXTURES, aws_backend_env

if TYPE_CHECKING:
    from moto_server import MotoServer

    from storage.dynamodb import DynamoNames

pytest_plugins = ["moto_server"]
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.usefixtures("mangum_loops_closed"),
]

OPENSKY = FIXTURES / "opensky_states_bbox_alps_79.json"
ADSBX = FIXTURES / "adsblol_v2_point_716ac.json"
EVENTS = FIXTURES / "events"
REDIS_DB = 11


class _Context:
    function_name = "flightdata"
    aws_request_id = "5b0c2f9e-8f0a-4c3e-9d1e-2a7f4e6b9c10"


@pytest.fixture
def stack(
    aws: MotoServer,
    dynamodb_local: DynamoDBLocal,
    dynamo_tables: DynamoNames,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Iterator[dict[str, str]]:
    made = provision(
        AwsClients(s3=aws.s3(), sqs=aws.sqs(), events=aws.events()), AwsNames.for_stage("wired")
    )
    assert made.events_queue_url is not None
    env = {
        **aws_backend_env(
            aws, dynamodb_local, dynamo_tables, made.bucket, tmp_path / "data", OPENSKY
        ),
        "FLIGHTDATA_RETRY_ATTEMPTS": "1",
        "PROCESSING_QUEUE_URL": made.queue_url,
        "EVENTBRIDGE_BUS_NAME": made.bus_name,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    lambdas.reset_runtime()
    yield {**env, "events_queue_url": made.events_queue_url, "queue_arn": made.queue_arn}
    lambdas.reset_runtime()


def _events(aws: MotoServer, queue_url: str) -> list[dict[str, Any]]:
    """Every event the bus routed to the events queue so far (EventBridge envelopes)."""
    sqs, found = aws.sqs(), list[dict[str, Any]]()
    while True:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return found
        for message in got["Messages"]:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def _of_type(events: list[dict[str, Any]], detail_type: str) -> list[dict[str, Any]]:
    return [e["detail"] for e in events if e["detail-type"] == detail_type]


def _fetch() -> dict[str, Any]:
    scheduled = json.loads((EVENTS / "eventbridge_scheduled.json").read_text())
    return lambdas.fetcher(scheduled, _Context())


def _process_queued(aws: MotoServer, stack: dict[str, str]) -> dict[str, Any]:
    sqs = aws.sqs()
    got = sqs.receive_message(QueueUrl=stack["PROCESSING_QUEUE_URL"], MaxNumberOfMessages=10)
    records = [
        {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "eventSource": "aws:sqs",
            "eventSourceARN": stack["queue_arn"],
        }
        for m in got.get("Messages", [])
    ]
    assert records, "nothing was queued"
    return lambdas.processor({"Records": records}, _Context())


def test_the_fetcher_publishes_a_system_health_check_once_a_minute(
    stack: dict[str, str], aws: MotoServer
) -> None:
    assert _fetch()["queued"] is True
    assert _fetch()["queued"] is True

    [health] = _of_type(_events(aws, stack["events_queue_url"]), "SystemHealthCheck")
    assert health["status"] == "ok"
    assert health["checks"] == {"last_fetch": "ok", "source": f"file:{OPENSKY}"}


def test_a_failed_fetch_makes_the_health_check_degraded(
    stack: dict[str, str], aws: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FLIGHTDATA_SOURCE", f"file:{tmp_path / 'missing.json'}")

    assert _fetch()["error"]

    [health] = _of_type(_events(aws, stack["events_queue_url"]), "SystemHealthCheck")
    assert health["status"] == "degraded"
    assert "cannot read" in health["checks"]["last_fetch"]


def test_the_fetcher_takes_the_backup_after_n_failed_cycles_and_comes_back(
    stack: dict[str, str], aws: MotoServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    primary = tmp_path / "opensky.json"
    monkeypatch.setenv("FLIGHTDATA_SOURCE", f"file:{primary}")
    monkeypatch.setenv("FLIGHTDATA_BACKUP_SOURCE", f"file:{ADSBX}")
    monkeypatch.setenv("FLIGHTDATA_FAILOVER_AFTER", "2")
    monkeypatch.setenv("FLIGHTDATA_FAILBACK_EVERY", "2")
    monkeypatch.setattr(lambdas, "HEALTH_EVERY_S", 0.0)

    first, second, third = _fetch(), _fetch(), _fetch()
    shutil.copy(OPENSKY, primary)  # the source answers again
    fourth, fifth = _fetch(), _fetch()

    assert first["error"]
    assert second["queued"]
    assert third["queued"]
    assert fourth["queued"]
    assert fifth["queued"]
    assert [r["source"] for r in (first, second, third, fourth, fifth)] == [
        f"file:{primary}",
        f"file:{ADSBX}",
        f"file:{ADSBX}",
        f"file:{primary}",
        f"file:{primary}",
    ]
    health = _of_type(_events(aws, stack["events_queue_url"]), "SystemHealthCheck")
    assert [(h["status"], h["checks"]["active_source"]) for h in health] == [
        ("degraded", "primary"),
        ("degraded", "backup"),
        ("degraded", "backup"),
        ("ok", "primary"),
        ("ok", "primary"),
    ]
    # The processor reads the backup's bodies as they are (ADS-B v2 layout).
    assert _process_queued(aws, stack) == {"batchItemFailures": []}


def test_the_backup_key_comes_from_ssm(aws: MotoServer) -> None:
    ssm = aws.ssm()
    for name, value in {
        "/flightdata/t/opensky/client_id": "client",
        "/flightdata/t/opensky/client_secret": "secret",
        "/flightdata/t/adsbx/api_key": "adsbx-key",
    }.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString")
    settings = Settings.from_env(
        {
            "FLIGHTDATA_SSM_PREFIX": "/flightdata/t",
            "FLIGHTDATA_SOURCE": "opensky",
            "FLIGHTDATA_BACKUP_SOURCE": "adsbx",
        }
    )

    found = with_ssm_credentials(settings, ssm)

    assert (found.opensky_client_id, found.opensky_client_secret) == ("client", "secret")
    assert found.adsbx_api_key == "adsbx-key"


def test_an_adsbx_source_needs_no_key_in_ssm(aws: MotoServer) -> None:
    settings = Settings.from_env(
        {"FLIGHTDATA_SSM_PREFIX": "/flightdata/t", "FLIGHTDATA_SOURCE": "adsbx"}
    )

    assert with_ssm_credentials(settings, aws.ssm()).adsbx_api_key == ""


def test_the_api_function_publishes_rate_limit_refusals(
    stack: dict[str, str], aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTDATA_RATE_TIERS", "anonymous=0.001:1,standard=50:500")
    handler = lambdas.LazyMangum()
    event = json.loads((EVENTS / "apigw_http_v2_graphql_post.json").read_text())
    event["body"] = json.dumps({"query": "{ flights(first: 1) { totalCount } }"})

    statuses = [handler(event, _Context())["statusCode"] for _ in range(2)]

    assert statuses == [200, 429]
    [refused] = _of_type(_events(aws, stack["events_queue_url"]), "RateLimitExceeded")
    assert refused["source"] == "api"
    assert refused["remaining"] == 0


def test_the_processor_retires_cached_flights_pages_in_redis(
    stack: dict[str, str], aws: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = redis_url(REDIS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    monkeypatch.setenv("REDIS_URL", url)

    assert _fetch()["queued"] is True
    assert client.get(GENERATION_KEY) is None
    assert _process_queued(aws, stack) == {"batchItemFailures": []}

    assert int(client.get(GENERATION_KEY) or 0) == 1
    processed = _of_type(_events(aws, stack["events_queue_url"]), "FlightDataProcessed")
    assert [p["stored"] for p in processed] == [78]
    client.close()
    assert orjson.loads(orjson.dumps(processed))  # the events are plain JSON
