"""One cycle end to end: normalise, validate, de-duplicate, store, dead-letter."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from ingestion.opensky import normalise_states
from ingestion.pipeline import Pipeline
from ingestion.replay import ReplaySource, load_snapshot, restamp
from storage.base import FlightFilter
from storage.stores import Stores
from testkit import FIXTURES, SteppedClock

SNAPSHOT_REASONS = {"stale_position": 69, "implausible_vertical_rate": 2, "implausible_altitude": 1}


@pytest.fixture
def pipeline(stores: Stores) -> Pipeline:
    return Pipeline(stores.flights, stores.dead_letters)


@pytest.fixture(scope="module")
def replay_payload() -> dict[str, Any]:
    """The snapshot as recorded, re-stamped to now."""
    return restamp(load_snapshot(), time.time())


def test_the_global_snapshot_is_accounted_for(
    pipeline: Pipeline, stores: Stores, replay_payload: dict[str, Any]
) -> None:
    report = pipeline.process("replay", replay_payload, ReplaySource.normalise)
    assert report.received == 5_485
    assert report.received == report.stored + report.rejected + report.duplicates
    assert report.balanced
    assert dict(report.reasons) == SNAPSHOT_REASONS
    assert report.rejected == 72
    assert report.duplicates == 0
    assert report.stored == 5_413
    assert report.error is None
    assert report.finished_at is not None
    assert report.started_at <= report.finished_at
    page = stores.flights.search_latest(FlightFilter(), first=1)
    with_position = sum(r[5] is not None and r[6] is not None for r in replay_payload["states"])
    rejected_with_position = sum(
        d.raw[5] is not None and d.raw[6] is not None
        for d in stores.dead_letters.list(first=100).items
    )
    assert page.total_count == with_position - rejected_with_position
    assert page.total_count > 5_000


def test_reingesting_the_same_payload_stores_nothing_new(
    pipeline: Pipeline, stores: Stores, replay_payload: dict[str, Any]
) -> None:
    pipeline.process("replay", replay_payload, ReplaySource.normalise)
    again = pipeline.process("replay", replay_payload, ReplaySource.normalise)
    assert (again.received, again.stored, again.duplicates, again.rejected) == (5_485, 0, 5_413, 72)
    assert again.balanced
    assert stores.dead_letters.count() == 72  # the same rejects are not kept twice


def test_dead_letters_keep_the_raw_row_and_the_reason(
    pipeline: Pipeline, stores: Stores, replay_payload: dict[str, Any]
) -> None:
    pipeline.process("replay", replay_payload, ReplaySource.normalise)
    letters = stores.dead_letters.list(first=100).items
    assert Counter(d.reason for d in letters) == SNAPSHOT_REASONS
    rows = {row[0]: row for row in replay_payload["states"]}
    for letter in letters:
        assert letter.source == "replay"
        assert letter.raw == rows[letter.raw[0]]
        assert letter.detail
        assert letter.received_at.tzinfo is not None
    for reason, count in SNAPSHOT_REASONS.items():
        assert stores.dead_letters.count(reason) == count
    [altitude] = [d for d in letters if d.reason == "implausible_altitude"]
    assert "altitude_m" in altitude.detail


def test_every_state_is_stored_as_replay(
    pipeline: Pipeline, stores: Stores, replay_payload: dict[str, Any]
) -> None:
    pipeline.process("replay", replay_payload, ReplaySource.normalise)
    state = stores.flights.latest(replay_payload["states"][0][0])
    assert state is not None
    assert state.source.value == "REPLAY"
    assert state.time.timestamp() == pytest.approx(replay_payload["states"][0][3])


@pytest.mark.parametrize(
    ("fixture", "received", "stored", "reasons"),
    [
        ("opensky_states_small_4_18field.json", 4, 3, {"schema": 1}),  # category -1
        ("opensky_states_bbox_alps_79.json", 79, 78, {"stale_position": 1}),
        ("opensky_states_all_18field_first500.json", 500, 495, {"stale_position": 5}),
    ],
)
def test_recorded_responses(
    pipeline: Pipeline, fixture: str, received: int, stored: int, reasons: dict[str, int]
) -> None:
    payload = orjson.loads((FIXTURES / fixture).read_bytes())
    report = pipeline.process("opensky", payload, normalise_states)
    assert (report.received, report.stored) == (received, stored)
    assert dict(report.reasons) == reasons
    assert report.balanced


def test_repeats_within_a_batch_are_duplicates(pipeline: Pipeline) -> None:
    payload = orjson.loads((FIXTURES / "opensky_states_small_4_18field.json").read_bytes())
    row = payload["states"][0]
    payload["states"] = [row, list(row), row]
    report = pipeline.process("opensky", payload, normalise_states)
    assert (report.received, report.stored, report.duplicates, report.rejected) == (3, 1, 2, 0)


def test_malformed_rows_are_counted_and_dead_lettered(pipeline: Pipeline, stores: Stores) -> None:
    payload = orjson.loads((FIXTURES / "opensky_states_small_4_18field.json").read_bytes())
    payload["states"] += [["too", "short"], None]
    report = pipeline.process("opensky", payload, normalise_states)
    assert report.received == 6
    assert report.reasons["malformed_row"] == 2
    assert report.balanced
    assert [d.raw for d in stores.dead_letters.list(first=10, reason="malformed_row").items] == [
        ["too", "short"],
        None,
    ]


def test_an_empty_response(pipeline: Pipeline, stores: Stores) -> None:
    report = pipeline.process("opensky", {"time": 1, "states": None}, normalise_states)
    assert (report.received, report.stored, report.rejected, report.duplicates) == (0, 0, 0, 0)
    assert stores.flights.newest_contact() is None


def test_a_payload_that_is_not_states_is_one_dead_letter(
    pipeline: Pipeline, stores: Stores
) -> None:
    report = pipeline.process("opensky", {"message": "maintenance"}, normalise_states)
    assert (report.received, report.stored, report.rejected) == (1, 0, 1)
    assert report.balanced
    [letter] = stores.dead_letters.list(first=10).items
    assert letter.reason == report.reasons.most_common(1)[0][0] == "invalid_payload"
    assert "no 'states' key" in letter.detail


def test_newest_contact_follows_the_payload(
    pipeline: Pipeline, stores: Stores, replay_payload: dict[str, Any]
) -> None:
    pipeline.process("replay", replay_payload, ReplaySource.normalise)
    newest = stores.flights.newest_contact()
    assert newest is not None
    observed = datetime.fromtimestamp(replay_payload["time"], UTC)
    assert abs((newest - observed).total_seconds()) < 2


def test_the_same_stale_state_in_many_cycles_is_one_dead_letter(stores: Stores) -> None:
    pipeline = Pipeline(stores.flights, stores.dead_letters)
    now = datetime.now(UTC).timestamp() - 60
    source = ReplaySource(clock=SteppedClock(*(now + 10.0 * i for i in range(4))))
    reports = [pipeline.process(source.name, source.advance(), source.normalise) for _ in "1234"]

    # Recorded positions older than five minutes never move: the same state every cycle.
    assert all(r.reasons["stale_position"] == 69 for r in reports)
    assert stores.dead_letters.count("stale_position") == 69


def test_old_dead_letters_are_pruned(stores: Stores) -> None:
    pipeline = Pipeline(stores.flights, stores.dead_letters)
    source = ReplaySource()
    pipeline.process(source.name, source.advance(), source.normalise)
    total = stores.dead_letters.count()

    assert stores.dead_letters.prune(datetime.now(UTC) - timedelta(days=1)) == 0
    assert stores.dead_letters.prune(datetime.now(UTC) + timedelta(seconds=1)) == total
    assert stores.dead_letters.count() == 0
