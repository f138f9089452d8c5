"""The ingest Lambda handlers, fed recorded EventBridge and SQS event payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from config import Settings
from runtime import lambdas
from runtime.stores import open_stores
from testkit import FIXTURES

EVENTS = FIXTURES / "events"


class _Context:
    function_name = "flight-data-processor"
    aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, seeded_settings: Settings) -> Iterator[Settings]:
    monkeypatch.setenv("FLIGHTDATA_DATA_DIR", str(seeded_settings.data_dir))
    monkeypatch.setenv("FLIGHTDATA_SOURCE", f"file:{FIXTURES / 'opensky_states_bbox_alps_79.json'}")
    lambdas.reset_runtime()
    yield seeded_settings
    lambdas.reset_runtime()


def _archive(settings: Settings, fixture: str, source: str, at: datetime) -> str:
    stores = open_stores(settings)
    try:
        return stores.archive.put((FIXTURES / fixture).read_bytes(), source=source, received_at=at)
    finally:
        stores.close()


def test_scheduled_fetch_runs_one_cycle(env: Settings) -> None:
    result = lambdas.fetcher(_event("eventbridge_scheduled.json"), _Context())

    assert result["error"] is None
    assert result["received"] == 79
    assert result["stored"] + result["rejected"] + result["duplicates"] == 79
    assert result["archive_key"].startswith("raw/year=")
    stores = open_stores(env)
    try:
        assert (
            stores.archive.get(result["archive_key"]).body
            == (FIXTURES / "opensky_states_bbox_alps_79.json").read_bytes()
        )
        [cycle] = stores.cycles.recent_cycles(5)
        assert cycle.cycle_id == result["cycle_id"]
    finally:
        stores.close()


def test_fetch_failure_is_reported_not_raised(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLIGHTDATA_SOURCE", "file:/nonexistent/states.json")
    lambdas.reset_runtime()

    result = lambdas.fetcher(_event("eventbridge_scheduled.json"), _Context())

    assert result["received"] == 0
    assert "cannot read" in result["error"]


def test_processor_reports_only_the_failed_messages(env: Settings) -> None:
    at = datetime(2024, 1, 15, 14, 0, tzinfo=UTC)
    keys = [
        _archive(env, "opensky_states_small_4_18field.json", "opensky", at),
        _archive(env, "adsblol_v2_point_716ac.json", "adsbx", at),
    ]
    event = _event("sqs_processing_batch.json")
    for record in event["Records"]:
        for i, key in enumerate(keys):
            record["body"] = record["body"].replace(f"ARCHIVE_KEY_{i}", key)

    result = lambdas.processor(event, _Context())

    # The third message names a body that was never archived.
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][2]["messageId"]}]}
    stores = open_stores(env)
    try:
        cycles = {c.cycle_id: c for c in stores.cycles.recent_cycles(10)}
        assert cycles["opensky@20240115T140000.000000Z"].received == 4
        assert cycles["adsbx@20240115T140000.000000Z"].received == 716
        assert all(c.balanced for c in cycles.values())
        assert cycles["adsbx@20240115T140000.000000Z"].stored > 0
    finally:
        stores.close()


def test_processing_the_same_message_twice_stores_nothing_new(env: Settings) -> None:
    key = _archive(
        env, "opensky_states_small_4_18field.json", "opensky", datetime(2024, 1, 15, tzinfo=UTC)
    )
    record = _event("sqs_processing_batch.json")["Records"][0]
    record["body"] = record["body"].replace("ARCHIVE_KEY_0", key)
    event = {"Records": [record]}

    assert lambdas.processor(event, _Context()) == {"batchItemFailures": []}
    assert lambdas.processor(event, _Context()) == {"batchItemFailures": []}

    stores = open_stores(env)
    try:
        # Both deliveries carry the same cycle id: the record is of the second one.
        [cycle] = stores.cycles.recent_cycles(5)
        assert cycle.received == 4
        assert cycle.stored == 0
        assert cycle.duplicates + cycle.rejected == cycle.received
    finally:
        stores.close()
