"""The ``replay`` source: a real global OpenSky snapshot, moving, with no network.

The snapshot (``data/opensky_states_all_large_5485.json``, 5,485 states recorded
2021-10-17T11:49:50Z) is re-stamped to now on the first fetch, keeping each state's age.
Each later fetch advances every airborne aircraft by dead reckoning: along its true track
at its ground speed, and vertically at its vertical rate until it levels off. An aircraft
whose position was already more than five minutes old in the recording has lost its
position source: its position stays where and when it was, as OpenSky would keep
reporting it (and validation keeps rejecting it as stale, as one dead letter).

Holds the moving snapshot; not thread-safe, call ``fetch`` from one task at a time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import resources
from typing import Any

import orjson

from domain import Source
from domain.geo import destination
from ingestion.batch import Normalised
from ingestion.opensky import normalise_states

SNAPSHOT = "opensky_states_all_large_5485.json"
# Aircraft climbing level off at or above this, those descending at or below the floor,
# so that hours of replay keep altitudes plausible.
_CRUISE_M = 11_500.0
_FLOOR_M = 450.0
_LOST_AFTER_S = 300.0
_LON, _LAT, _BARO, _GROUND, _SPEED, _TRACK, _VRATE, _GEO = 5, 6, 7, 8, 9, 10, 11, 13


def load_snapshot() -> dict[str, Any]:
    data = resources.files("ingestion").joinpath("data", SNAPSHOT).read_bytes()
    snapshot: dict[str, Any] = orjson.loads(data)
    return snapshot


class ReplaySource:
    name = "replay"

    def __init__(
        self, snapshot: dict[str, Any] | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        snap = snapshot if snapshot is not None else load_snapshot()
        self._recorded_at = float(snap["time"])
        self._rows: list[list[Any]] = [list(r) for r in snap["states"] or []]
        self._limits = [_altitude_limits(r) for r in self._rows]
        self._lost = [
            r[3] is not None and self._recorded_at - r[3] > _LOST_AFTER_S for r in self._rows
        ]
        self._clock = clock
        self._now: float | None = None

    async def fetch(self) -> bytes:
        return orjson.dumps(self.advance())

    def advance(self) -> dict[str, Any]:
        """The snapshot as an OpenSky response for the current time."""
        now = self._clock()
        dt = now - (self._recorded_at if self._now is None else self._now)
        first = self._now is None
        self._now = now
        for row, limits, lost in zip(self._rows, self._limits, self._lost, strict=True):
            if row[4] is not None:
                row[4] += dt
            if lost and not first:
                continue
            if row[3] is not None:
                row[3] += dt
            if not first:
                _dead_reckon(row, dt, limits)
        return {"time": int(now), "states": [list(r) for r in self._rows]}

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_states(payload, Source.REPLAY)


def _altitude_limits(row: list[Any]) -> tuple[float, float]:
    altitude = row[_BARO] or 0.0
    return min(altitude, _FLOOR_M), max(altitude, _CRUISE_M)


def _dead_reckon(row: list[Any], dt: float, limits: tuple[float, float]) -> None:
    if row[_GROUND] or row[_LAT] is None or row[_LON] is None:
        return
    speed, track = row[_SPEED], row[_TRACK]
    if speed and track is not None:
        lat, lon = destination(row[_LAT], row[_LON], track, speed * dt)
        row[_LAT], row[_LON] = round(lat, 5), round(lon, 5)
    rate = row[_VRATE]
    if rate:
        floor, ceiling = limits
        for index in (_BARO, _GEO):
            if row[index] is not None:
                row[index] = min(ceiling, max(floor, row[index] + rate * dt))
        baro = row[_BARO]
        if baro is not None and (baro >= ceiling or baro <= floor):
            row[_VRATE] = 0.0
