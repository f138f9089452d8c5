"""The one retry layer of DynamoDB calls (``storage.dynamodb._client.Dynamo``): its worst
case per call, as ``docs/deployment.md`` states it, through botocore's Stubber."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.stub import Stubber

from config import Settings
from storage.aws import aws_client
from storage.dynamodb._client import Backoff, Dynamo, DynamoUnavailable

TABLE = "flights"
# The worst case docs/deployment.md states: requests per call, seconds waited between them.
WORST_REQUESTS = 8
WORST_WAIT_S = 5.15


@pytest.fixture
def client(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The DynamoDB client the service makes, pointed nowhere (the Stubber answers)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stub")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stub")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return aws_client(settings, "dynamodb")


def _writes(count: int) -> list[Any]:
    return [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(count)]


def test_botocore_does_not_retry_dynamodb_itself(client: Any, settings: Settings) -> None:
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert aws_client(settings, "s3").meta.config.retries["total_max_attempts"] == 4


def test_the_default_budget_is_the_documented_worst_case() -> None:
    backoff = Backoff()
    waits = [min(backoff.cap_s, backoff.base_s * 2**i) for i in range(backoff.attempts - 1)]

    assert backoff.attempts == WORST_REQUESTS
    assert sum(waits) == pytest.approx(WORST_WAIT_S)


def test_a_throttled_batch_write_makes_at_most_the_budgets_requests(client: Any) -> None:
    sleeps: list[float] = []
    dynamo = Dynamo(client, backoff=Backoff(sleep=sleeps.append), workers=1)
    stubber = Stubber(client)
    for _ in range(WORST_REQUESTS):
        stubber.add_client_error(
            "batch_write_item", service_error_code="ThrottlingException", http_status_code=400
        )

    with stubber, pytest.raises(DynamoUnavailable, match="throttled after 8 attempts"):
        dynamo.write(TABLE, _writes(25))

    stubber.assert_no_pending_responses()
    assert len(sleeps) == WORST_REQUESTS - 1
    assert sum(sleeps) <= WORST_WAIT_S


def test_unprocessed_items_and_throttling_share_one_budget(client: Any) -> None:
    sleeps: list[float] = []
    dynamo = Dynamo(client, backoff=Backoff(sleep=sleeps.append), workers=1)
    stubber = Stubber(client)
    left = {"UnprocessedItems": {TABLE: _writes(1)}}
    for i in range(WORST_REQUESTS):
        if i % 2:
            stubber.add_response("batch_write_item", left)
        else:
            stubber.add_client_error(
                "batch_write_item",
                service_error_code="ProvisionedThroughputExceededException",
                http_status_code=400,
            )

    with stubber, pytest.raises(DynamoUnavailable, match="unprocessed after 8 attempts"):
        dynamo.write(TABLE, _writes(25))

    stubber.assert_no_pending_responses()
    assert len(sleeps) == WORST_REQUESTS - 1


def test_a_server_error_is_retried_within_the_budget(client: Any) -> None:
    dynamo = Dynamo(client, backoff=Backoff(sleep=lambda s: None), workers=1)
    stubber = Stubber(client)
    stubber.add_client_error(
        "batch_write_item", service_error_code="InternalServerError", http_status_code=500
    )
    stubber.add_response("batch_write_item", {"UnprocessedItems": {}})

    with stubber:
        dynamo.write(TABLE, _writes(3))

    stubber.assert_no_pending_responses()
