"""Record-by-record validation: every failure a reject with a reason, the rest states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import Source
from ingestion.batch import Candidate
from ingestion.validate import Rules, validate

OBSERVED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
T = OBSERVED.timestamp()


def candidate(**fields: Any) -> Candidate:
    values: dict[str, Any] = {
        "icao24": "3c6444",
        "callsign": "DLH9    ",
        "origin_country": "Germany",
        "time_position": T - 5,
        "last_contact": T - 1,
        "longitude": 8.5,
        "latitude": 50.0,
        "baro_altitude_m": 10_000.0,
        "on_ground": False,
        "velocity_mps": 230.0,
        "true_track_deg": 90.0,
        "vertical_rate_mps": 0.0,
        "geo_altitude_m": 10_100.0,
        "squawk": "1000",
        "spi": False,
        "position_source": 0,
        "category": None,
        "source": Source.OPENSKY,
    }
    values.update(fields)
    return Candidate(values, raw=["raw", values["icao24"]])


def reasons(*candidates: Candidate, **kwargs: Any) -> list[str]:
    _, rejects = validate(list(candidates), observed_at=OBSERVED, **kwargs)
    return [r.reason for r in rejects]


def test_a_good_candidate_becomes_a_state() -> None:
    states, rejects = validate([candidate()], observed_at=OBSERVED)
    assert rejects == []
    [state] = states
    assert state.icao24 == "3c6444"
    assert state.callsign == "DLH9"
    assert state.time == OBSERVED - timedelta(seconds=5)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"icao24": "xyz"}, "invalid_icao24"),
        ({"latitude": 95.0}, "invalid_coordinates"),
        ({"longitude": float("nan")}, "invalid_coordinates"),
        ({"baro_altitude_m": 30_000.0}, "implausible_altitude"),
        ({"geo_altitude_m": -900.0}, "implausible_altitude"),
        ({"velocity_mps": 800.0}, "implausible_speed"),
        ({"vertical_rate_mps": 320.0}, "implausible_vertical_rate"),
        ({"last_contact": "yesterday"}, "invalid_time"),
        ({"last_contact": None}, "invalid_time"),
        ({"category": -1}, "schema"),
        ({"squawk": 7700}, "schema"),
    ],
)
def test_each_broken_rule_has_its_reason(fields: dict[str, Any], reason: str) -> None:
    assert reasons(candidate(**fields)) == [reason]


def test_reject_keeps_the_raw_record_and_says_what_was_wrong() -> None:
    bad = candidate(baro_altitude_m=30_000.0)
    _, [reject] = validate([bad], observed_at=OBSERVED)
    assert reject.raw == ["raw", "3c6444"]
    assert "baro_altitude_m" in reject.detail
    assert "25000" in reject.detail
    assert "30000.0" in reject.detail


def test_one_bad_record_never_fails_the_batch() -> None:
    batch = [candidate(icao24=f"00000{i}") for i in range(5)]
    batch.insert(2, candidate(icao24="zzzzzz"))
    states, rejects = validate(batch, observed_at=OBSERVED)
    assert [s.icao24 for s in states] == [f"00000{i}" for i in range(5)]
    assert [r.reason for r in rejects] == ["invalid_icao24"]


def test_stale_position_is_judged_against_the_observation_time() -> None:
    old = candidate(time_position=T - 301, last_contact=T - 1)
    fresh = candidate(time_position=T - 300, last_contact=T - 1)
    assert reasons(old, fresh) == ["stale_position"]
    _, [reject] = validate([old], observed_at=OBSERVED)
    assert reject.detail == "position is 301 s old, more than 300 s"


def test_an_old_recording_is_judged_by_its_own_time_not_by_now() -> None:
    # Two years old, but a few seconds old when it was observed.
    assert reasons(candidate()) == []


def test_without_an_observation_time_ages_are_judged_against_now() -> None:
    now = datetime.now(UTC).timestamp()
    states, rejects = validate([candidate(), candidate(time_position=now - 10, last_contact=now)])
    assert [r.reason for r in rejects] == ["stale_position"]
    assert len(states) == 1


def test_without_a_position_time_age_is_not_checked() -> None:
    assert reasons(candidate(time_position=None, last_contact=T - 3_600)) == []


def test_position_age_limit_is_a_rule() -> None:
    rules = Rules(max_position_age=timedelta(seconds=30))
    assert reasons(candidate(time_position=T - 31), rules=rules) == ["stale_position"]
    assert reasons(candidate(time_position=T - 29), rules=rules) == []


def test_future_times_are_rejected() -> None:
    now = datetime.now(UTC).timestamp()
    ahead = candidate(time_position=now + 120, last_contact=now + 120)
    contact_ahead = candidate(time_position=now, last_contact=now + 120)
    near = candidate(time_position=now + 30, last_contact=now + 30)
    _, rejects = validate([ahead, contact_ahead, near])
    assert [r.reason for r in rejects] == ["future_time", "future_time"]
    assert "is in the future" in rejects[0].detail


def test_a_recording_stamped_ahead_of_now_is_judged_by_its_own_time() -> None:
    later = datetime.now(UTC) + timedelta(minutes=10)
    t = later.timestamp()
    states, rejects = validate(
        [candidate(time_position=t - 5, last_contact=t - 1)], observed_at=later
    )
    assert (len(states), rejects) == (1, [])
