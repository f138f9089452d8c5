"""The replay source: the recorded global snapshot, re-stamped to now and moving."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import orjson
import pytest

from domain import Source
from domain.geo import haversine_km
from ingestion.replay import ReplaySource, load_snapshot
from ingestion.validate import validate
from testkit import SteppedClock

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
LON, LAT, BARO, GROUND, SPEED, TRACK, VRATE, GEO = 5, 6, 7, 8, 9, 10, 11, 13


@pytest.fixture(scope="module")
def snapshot() -> dict[str, Any]:
    return load_snapshot()


def lost(snapshot: dict[str, Any]) -> set[str]:
    """Aircraft whose position was more than five minutes old when recorded."""
    return {r[0] for r in snapshot["states"] if r[3] is not None and snapshot["time"] - r[3] > 300}


def by_icao(payload: dict[str, Any]) -> dict[str, list[Any]]:
    rows = {row[0]: row for row in payload["states"]}
    assert len(rows) == len(payload["states"])  # one row per aircraft in this snapshot
    return rows


def initial_bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360


def test_the_packaged_snapshot(snapshot: dict[str, Any]) -> None:
    assert snapshot["time"] == 1_634_471_390
    states = snapshot["states"]
    assert len(states) == 5_485
    assert {len(row) for row in states} == {17}
    assert sum(row[LAT] is not None and row[LON] is not None for row in states) == 5_384
    assert sum(bool(row[GROUND]) for row in states) == 379


def test_first_advance_restamps_to_now_keeping_ages(snapshot: dict[str, Any]) -> None:
    payload = ReplaySource(snapshot, clock=lambda: NOW).advance()
    assert payload["time"] == int(NOW)
    shift = NOW - snapshot["time"]
    for before, after in zip(snapshot["states"], payload["states"], strict=True):
        assert after[4] == pytest.approx(before[4] + shift)
        assert (NOW - after[4]) == pytest.approx(snapshot["time"] - before[4])
        if before[3] is None:
            assert after[3] is None
        else:
            assert after[3] == pytest.approx(before[3] + shift)
        # Nothing moves on the first fetch.
        assert after[LAT : GEO + 1] == before[LAT : GEO + 1]
        assert after[LON] == before[LON]


def test_the_snapshot_given_is_not_changed(snapshot: dict[str, Any]) -> None:
    copy = orjson.loads(orjson.dumps(snapshot))
    source = ReplaySource(snapshot, clock=SteppedClock(NOW, NOW + 10))
    source.advance()
    source.advance()
    assert snapshot == copy


def test_a_cycle_later_airborne_aircraft_have_moved_along_their_track(
    snapshot: dict[str, Any],
) -> None:
    source = ReplaySource(snapshot, clock=SteppedClock(NOW, NOW + 10))
    first = by_icao(source.advance())
    second = by_icao(source.advance())
    assert second.keys() == first.keys()
    moved = 0
    frozen = lost(snapshot)
    assert len(frozen) == 69
    for icao24, a in first.items():
        b = second[icao24]
        assert b[4] == pytest.approx(a[4] + 10)
        no_fix = icao24 in frozen  # no fresh position: stays where and when it was
        if no_fix:
            assert b[3] == a[3]
        if a[LAT] is None or a[GROUND] or not a[SPEED] or a[TRACK] is None or no_fix:
            assert (b[LAT], b[LON]) == (a[LAT], a[LON])
            continue
        distance_m = 1000 * haversine_km(a[LAT], a[LON], b[LAT], b[LON])
        # Positions are rounded to 1e-5 degrees (about a metre).
        assert distance_m == pytest.approx(a[SPEED] * 10, abs=3.0), icao24
        if a[SPEED] * 10 > 500:
            bearing = initial_bearing(a[LAT], a[LON], b[LAT], b[LON])
            off = abs((bearing - a[TRACK] + 180) % 360 - 180)
            assert off < 1.0, (icao24, bearing, a[TRACK])
        moved += 1
    assert moved > 4_500


def test_ground_aircraft_stay_put_and_vertical_rate_changes_altitude(
    snapshot: dict[str, Any],
) -> None:
    source = ReplaySource(snapshot, clock=SteppedClock(NOW, NOW + 10))
    first = by_icao(source.advance())
    second = by_icao(source.advance())
    grounded = [k for k, row in first.items() if row[GROUND] and row[LAT] is not None]
    assert len(grounded) > 300
    for icao24 in grounded:
        assert second[icao24][LAT : LAT + 1] == first[icao24][LAT : LAT + 1]
        assert second[icao24][LON] == first[icao24][LON]
    frozen = lost(snapshot)
    climbing = [
        k
        for k, row in first.items()
        if k not in frozen
        and not row[GROUND]
        and row[BARO]
        and (row[VRATE] or 0) > 2
        and 1_000 < row[BARO] < row[BARO] + 10 * row[VRATE] < 11_000
    ]
    assert climbing
    for icao24 in climbing:
        a, b = first[icao24], second[icao24]
        assert b[BARO] == pytest.approx(a[BARO] + 10 * a[VRATE])


def test_hours_of_replay_keep_every_state_plausible(snapshot: dict[str, Any]) -> None:
    times = [NOW + 600.0 * i for i in range(101)]  # about 17 hours, 600 s a cycle
    source = ReplaySource(snapshot, clock=SteppedClock(*times))
    first = ReplaySource.normalise(source.advance())
    _, rejects = validate(first.candidates, observed_at=first.observed_at)
    rejected_at_start = {r.raw[0] for r in rejects}
    assert len(rejected_at_start) == 72
    for _ in range(100):
        payload = source.advance()
    assert payload["time"] == int(times[-1])
    last = ReplaySource.normalise(payload)
    states, rejects = validate(last.candidates, observed_at=last.observed_at)
    # Nothing that was valid in the recording has become invalid by moving for hours.
    assert {r.raw[0] for r in rejects} <= rejected_at_start
    assert len(states) >= 5_485 - 72
    recorded = by_icao(snapshot)
    for state in states:
        for altitude in (state.baro_altitude_m, state.geo_altitude_m):
            assert altitude is None or -500 <= altitude <= 25_000
        was = recorded[state.icao24][BARO]
        if state.baro_altitude_m is not None and was is not None:
            # Climbers level off at cruise (or where they were, if higher), descenders
            # at 450 m (or where they were, if lower): nobody climbs or sinks for ever.
            assert min(was, 450.0) <= state.baro_altitude_m <= max(was, 11_500.0)


def test_states_say_replay() -> None:
    payload = {"time": 1, "states": [load_snapshot()["states"][0]]}
    [candidate] = ReplaySource.normalise(payload).candidates
    assert candidate.fields["source"] is Source.REPLAY


def test_fetch_is_the_advanced_snapshot_as_json(snapshot: dict[str, Any]) -> None:
    source = ReplaySource(snapshot, clock=lambda: NOW)
    body = asyncio.run(source.fetch())
    payload = orjson.loads(body)
    assert payload["time"] == int(NOW)
    assert len(payload["states"]) == 5_485


def test_empty_snapshot() -> None:
    source = ReplaySource({"time": 1, "states": None}, clock=lambda: NOW)
    assert source.advance() == {"time": int(NOW), "states": []}
