"""The replay source: the recorded global snapshot, re-stamped to now and moving."""

from __future__ import annotations

import asyncio
import math
import time
import zlib
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as examples
from hypothesis import strategies as st

from config import Settings
from domain import Source
from domain.geo import haversine_km
from ingestion.pipeline import MAX_SPEED_MPS, Pipeline
from ingestion.replay import LEG_S, ReplaySource, load_snapshot, restamp, shuttle
from ingestion.validate import validate
from runtime.stores import open_stores
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


def turns(icao24: str, start: float, end: float) -> bool:
    """Whether an aircraft's shuttle turns round between two times."""
    return shuttle(icao24, start)[1] != shuttle(icao24, end)[1]


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


def test_every_fetch_restamps_to_now_keeping_ages(snapshot: dict[str, Any]) -> None:
    frozen = lost(snapshot)
    for now in (NOW, NOW + 1234.5):
        payload = ReplaySource(snapshot).at(now)
        assert payload["time"] == int(now)
        shift = now - snapshot["time"]
        for before, after in zip(snapshot["states"], payload["states"], strict=True):
            assert after[4] == pytest.approx(before[4] + shift)
            if before[3] is None:
                assert after[3] is None
            elif before[0] in frozen:
                assert after[3] == before[3]
            else:
                assert (now - after[3]) == pytest.approx(snapshot["time"] - before[3])


def test_each_aircraft_is_at_its_recorded_state_at_the_start_of_its_shuttle(
    snapshot: dict[str, Any],
) -> None:
    source = ReplaySource(snapshot)
    for before in snapshot["states"][::50]:
        offset = zlib.crc32(before[0].encode()) % (2 * LEG_S)
        start = NOW - offset
        flown_s, outbound = shuttle(before[0], start)
        assert flown_s == pytest.approx(0.0, abs=1e-6)
        assert outbound
        [after] = [r for r in source.at(start)["states"] if r[0] == before[0]]
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
        if turns(icao24, NOW, NOW + 10):
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
        and not turns(k, NOW, NOW + 10)
        and row[BARO]
        and (row[VRATE] or 0) > 2
        and 1_000 < row[BARO] < row[BARO] + 10 * row[VRATE] < 11_000
    ]
    assert climbing
    for icao24 in climbing:
        a, b = first[icao24], second[icao24]
        # Metres to the centimetre, as OpenSky sends them: each rounded once.
        assert b[BARO] == pytest.approx(a[BARO] + 10 * a[VRATE], abs=0.011)
        assert round(b[BARO], 2) == b[BARO]
        assert b[GEO] is None or round(b[GEO], 2) == b[GEO]


def test_hours_of_replay_keep_every_state_plausible(snapshot: dict[str, Any]) -> None:
    times = [NOW + 600.0 * i for i in range(101)]  # about 17 hours, 600 s a cycle
    source = ReplaySource(snapshot, clock=SteppedClock(*times))
    as_recorded = ReplaySource.normalise(snapshot)
    _, rejects = validate(as_recorded.candidates, observed_at=as_recorded.observed_at)
    rejected_at_start = {r.raw[0] for r in rejects}
    assert len(rejected_at_start) == 72
    for _ in range(101):
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


RECORDED = load_snapshot()
MOVING = [
    row
    for row in RECORDED["states"]
    if row[LAT] is not None and not row[GROUND] and row[SPEED] and row[TRACK] is not None
]
# Positions are rounded to 1e-5 degrees: up to about 1.6 m between two rounded points.
ROUNDING_M = 2.0


def one_aircraft(row: list[Any]) -> ReplaySource:
    return ReplaySource({"time": RECORDED["time"], "states": [row]})


def position(source: ReplaySource, at: float) -> tuple[float, float]:
    [row] = source.at(at)["states"]
    return row[LAT], row[LON]


def test_a_restarted_source_continues_the_same_flights(snapshot: dict[str, Any]) -> None:
    before = ReplaySource(snapshot, clock=SteppedClock(NOW, NOW + 10))
    before.advance()
    last = by_icao(before.advance())
    # The process restarts 75 s later: a new source, a new clock.
    after = ReplaySource(load_snapshot(), clock=SteppedClock(NOW + 85))
    first = by_icao(after.advance())
    assert first.keys() == last.keys()
    for icao24, a in last.items():
        b = first[icao24]
        if a[LAT] is None:
            continue
        distance_m = 1000 * haversine_km(a[LAT], a[LON], b[LAT], b[LON])
        assert distance_m <= (a[SPEED] or 0) * 75 + ROUNDING_M, icao24
    assert after.at(NOW + 10) == before.at(NOW + 10)


@examples(max_examples=300, deadline=None)
@given(
    row=st.sampled_from(MOVING),
    start=st.floats(NOW - 30 * 86_400, NOW + 30 * 86_400),
    dt=st.floats(1.0, 3 * LEG_S),
)
def test_no_aircraft_moves_faster_than_it_flies(row: list[Any], start: float, dt: float) -> None:
    source = one_aircraft(row)
    lat1, lon1 = position(source, start)
    lat2, lon2 = position(source, start + dt)
    distance_m = 1000 * haversine_km(lat1, lon1, lat2, lon2)
    assert distance_m <= row[SPEED] * dt + ROUNDING_M
    assert distance_m / dt <= MAX_SPEED_MPS


def test_an_aircraft_turns_round_where_it_is(snapshot: dict[str, Any]) -> None:
    row = max(MOVING, key=lambda r: r[SPEED])
    source = one_aircraft(row)
    turn = NOW - zlib.crc32(row[0].encode()) % (2 * LEG_S) + LEG_S
    assert shuttle(row[0], turn - 1)[1]
    assert not shuttle(row[0], turn + 1)[1]
    out, back = source.at(turn - 5)["states"][0], source.at(turn + 5)["states"][0]
    assert haversine_km(out[LAT], out[LON], back[LAT], back[LON]) * 1000 < ROUNDING_M
    assert abs((back[TRACK] - out[TRACK]) % 360 - 180) < 0.1
    # Two legs later it is back where it was recorded, still moving at its speed.
    home = source.at(turn + LEG_S)["states"][0]
    assert (home[LAT], home[LON]) == (row[LAT], row[LON])


def test_the_pipeline_sees_no_impossible_jump_over_a_restart(settings: Settings) -> None:
    start = time.time() - 1_700
    stores = open_stores(settings)
    before = ReplaySource(clock=SteppedClock(start, start + 1_500))
    pipeline = Pipeline(stores.flights, stores.dead_letters)
    reports = [pipeline.process(before.name, before.advance(), before.normalise) for _ in "12"]

    stores = open_stores(settings)  # the process restarts: new stores, pipeline and source
    after = ReplaySource(clock=SteppedClock(start + 1_600, start + 1_610))
    pipeline = Pipeline(stores.flights, stores.dead_letters)
    reports += [pipeline.process(after.name, after.advance(), after.normalise) for _ in "12"]

    assert all(r.stored > 5_000 for r in reports)
    assert [r.reasons["impossible_jump"] for r in reports] == [0, 0, 0, 0]


def test_restamp_keeps_positions_and_ages(snapshot: dict[str, Any]) -> None:
    payload = restamp(snapshot, NOW)
    assert payload["time"] == int(NOW)
    shift = NOW - snapshot["time"]
    for before, after in zip(snapshot["states"], payload["states"], strict=True):
        assert after[4] == before[4] + shift
        assert after[3] == (None if before[3] is None else before[3] + shift)
        assert after[5:] == before[5:]
