"""The ``replay`` source: a real global OpenSky snapshot, moving, with no network.

The snapshot (``data/opensky_states_all_large_5485.json``, 5,485 states recorded
2021-10-17T11:49:50Z) is re-stamped to the time of each fetch, keeping each state's age.
Every position is a pure function of the recorded state and the clock, so two sources
(a process and the one that replaces it after a restart) agree on where every aircraft is
now, and an aircraft never jumps between two fetches however far apart they are.

An airborne aircraft flies a shuttle: out from its recorded position along its great
circle at its recorded ground speed for ``LEG_S`` seconds, then back along the same path
to where it was recorded, and again. The shuttle's phase is the clock (seconds since the
Unix epoch) plus an offset fixed by the aircraft's icao24, so aircraft turn round at
different times. Position is continuous and moves at most at the recorded ground speed
(at most 304 m/s in this snapshot), also across a turn. The reported track is the course
on the great circle at the current point (reversed on the way back); altitude follows the
recorded vertical rate out and its opposite back, levelling off at cruise (or the recorded
altitude, if higher) and at a floor (or the recorded altitude, if lower).

An aircraft whose position was already more than five minutes old in the recording has
lost its position source: its position stays where and when it was recorded, as OpenSky
would keep reporting it (and validation rejects it as stale: one dead letter ever, since
the state never changes). Aircraft on the ground stay where they are.

Immutable after construction; ``advance`` and ``at`` may be called from any thread.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any

import orjson

from domain import Source
from domain.geo import destination
from ingestion.batch import Normalised
from ingestion.opensky import normalise_states

SNAPSHOT = "opensky_states_all_large_5485.json"
# Seconds out along the track before turning back: about 1,000 km for an airliner, so the
# traffic keeps the recording's geography.
LEG_S = 3_600.0
_CYCLE_S = 2 * LEG_S
# Aircraft climbing level off at or above this, those descending at or below the floor,
# so that hours of replay keep altitudes plausible.
_CRUISE_M = 11_500.0
_FLOOR_M = 450.0
_LOST_AFTER_S = 300.0
# Under this distance from the recorded point the course is the recorded track.
_COURSE_MIN_M = 10.0
_ICAO, _TPOS, _CONTACT = 0, 3, 4
_LON, _LAT, _BARO, _GROUND, _SPEED, _TRACK, _VRATE, _GEO = 5, 6, 7, 8, 9, 10, 11, 13


def load_snapshot() -> dict[str, Any]:
    data = resources.files("ingestion").joinpath("data", SNAPSHOT).read_bytes()
    snapshot: dict[str, Any] = orjson.loads(data)
    return snapshot


def restamp(snapshot: dict[str, Any], now: float) -> dict[str, Any]:
    """``snapshot`` where it was recorded, its times moved to ``now`` keeping their ages."""
    shift = now - float(snapshot["time"])
    states = []
    for row in snapshot["states"] or []:
        state = list(row)
        for index in (_TPOS, _CONTACT):
            if state[index] is not None:
                state[index] += shift
        states.append(state)
    return {"time": int(now), "states": states}


def shuttle(icao24: str, now: float) -> tuple[float, bool]:
    """Seconds of flight from the recorded position at ``now``, and whether outbound."""
    phase = (now + zlib.crc32(icao24.encode()) % _CYCLE_S) % _CYCLE_S
    if phase <= LEG_S:
        return phase, True
    return _CYCLE_S - phase, False


class ReplaySource:
    name = "replay"

    def __init__(
        self, snapshot: dict[str, Any] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        snap = snapshot if snapshot is not None else load_snapshot()
        self._recorded_at = float(snap["time"])
        self._rows: tuple[tuple[Any, ...], ...] = tuple(tuple(r) for r in snap["states"] or [])
        self._clock = clock

    async def fetch(self) -> bytes:
        return orjson.dumps(self.advance())

    def advance(self) -> dict[str, Any]:
        """The snapshot as an OpenSky response for the current time."""
        return self.at(self._clock())

    def at(self, now: float) -> dict[str, Any]:
        """The snapshot as an OpenSky response for ``now`` (seconds since the epoch)."""
        states = [_state_at(row, self._recorded_at, now) for row in self._rows]
        return {"time": int(now), "states": states}

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_states(payload, Source.REPLAY)


def _state_at(row: Sequence[Any], recorded_at: float, now: float) -> list[Any]:
    state = list(row)
    shift = now - recorded_at
    if row[_CONTACT] is not None:
        state[_CONTACT] = row[_CONTACT] + shift
    if row[_TPOS] is not None:
        if recorded_at - row[_TPOS] > _LOST_AFTER_S:
            return state
        state[_TPOS] = row[_TPOS] + shift
    if not row[_GROUND] and row[_LAT] is not None and row[_LON] is not None:
        flown_s, outbound = shuttle(row[_ICAO], now)
        _fly(row, state, flown_s, outbound)
    return state


def _fly(row: Sequence[Any], state: list[Any], flown_s: float, outbound: bool) -> None:
    speed, track = row[_SPEED], row[_TRACK]
    if speed and track is not None:
        distance_m = speed * flown_s
        lat, lon = destination(row[_LAT], row[_LON], track, distance_m)
        state[_LAT], state[_LON] = round(lat, 5), round(lon, 5)
        course = track
        if distance_m >= _COURSE_MIN_M:
            course = (_bearing(lat, lon, row[_LAT], row[_LON]) + 180.0) % 360.0
        state[_TRACK] = round(course if outbound else (course + 180.0) % 360.0, 2)
    rate = row[_VRATE]
    if rate and flown_s:
        floor, ceiling = min(row[_BARO] or 0.0, _FLOOR_M), max(row[_BARO] or 0.0, _CRUISE_M)
        for index in (_BARO, _GEO):
            if row[index] is not None:
                # Metres to the centimetre, as OpenSky sends them.
                state[index] = round(min(ceiling, max(floor, row[index] + rate * flown_s)), 2)
        baro = state[_BARO]
        level = baro is not None and (baro >= ceiling or baro <= floor)
        state[_VRATE] = 0.0 if level else (rate if outbound else -rate)


def _bearing(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from the first point to the second, in degrees."""
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0
