"""The live index: the latest state of each aircraft in Redis, searched by bounding box.

Key layout (``p`` is the prefix, ``flightdata`` by default)::

    {p}:live:geo              geo set (a zset); member icao24, score the geohash of the
                              position, latitude clamped to Redis's ±85.05112878°
    {p}:live:state:{icao24}   hash, EXPIREd ttl after each write:
                                t  key time (time_position, else last_contact), epoch s
                                s  the state, ``encode_state`` below
    {p}:live:newest           max last_contact written, epoch s, EXPIREd with the states
    {p}:live:complete_since   Redis TIME from which every put reached the index: set by
                              the first put into an empty Redis, and by the first put
                              after a failed one

A put is one Lua script per chunk of states, pipelined: a state replaces the stored one
only if its key time is not older (as SQLite's ``latest`` upsert), atomically without
WATCH. A state without a position keeps its hash but leaves the geo set.

A search is GEOSEARCH BYBOX over boxes that contain the requested one (Redis boxes are
metric and centred, so they are widened; an antimeridian-crossing box is split in two)
followed by an exact filter on the stored coordinates, so answers equal
``SqliteFlightRepository.search_latest`` on the same states, cursors included. Members
whose hash expired are removed lazily. Thread-safe (the client's pool is).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.exceptions import RedisError

from domain import BoundingBox, FlightPhase, FlightState
from domain.flight import PositionSource, Source
from domain.geo import region_of
from storage import cursor
from storage.base import FlightFilter, Page, StoreUnavailable, fold_ascii
from storage.redis import RedisClient

log = logging.getLogger(__name__)

LAT_LIMIT = 85.05112878  # GEOADD and GEOSEARCH refuse latitudes beyond this
_EARTH_M = 6372797.560856  # Redis's own radius, so our boxes match its distance checks
_PAD_DEG = 1e-4  # geohashes store positions to ~5e-6°; widen boxes well past that
_PAD_M = 10.0
_CHUNK = 500  # states per script call: one call blocks Redis for ~2 ms, not ~25

# --- the stored state: a JSON array, version first, times as epoch seconds like SQLite ---
_VERSION = 1
_ICAO, _CALLSIGN, _COUNTRY, _CONTACT, _LAT, _LON, _GROUND = 1, 3, 4, 6, 7, 8, 11
_POSITION_SOURCES = {p.value: p for p in PositionSource}
_SOURCES = {s.value: s for s in Source}
_PHASES = {p.value: p for p in FlightPhase}


def encode_state(s: FlightState) -> bytes:
    """``s`` as the index stores it, in a bytes object of its own size: orjson returns
    its output in the buffer it wrote it in (4 KiB at least), and a cycle's 5,400 states
    wait in a pipeline, or in a cycle update being joined, 21 MiB instead of 1 MiB."""
    return bytes(memoryview(orjson.dumps(
        (
            _VERSION, s.icao24, s.non_icao, s.callsign, s.origin_country,
            s.time_position.timestamp() if s.time_position else None,
            s.last_contact.timestamp(), s.latitude, s.longitude,
            s.baro_altitude_m, s.geo_altitude_m, s.on_ground, s.velocity_mps,
            s.true_track_deg, s.vertical_rate_mps, s.squawk, s.spi,
            None if s.position_source is None else int(s.position_source),
            s.category, s.source.value, s.region or region_of(s.latitude, s.longitude),
            s.grid_cell, None if s.phase is None else s.phase.value,
            s.nearest_airport_icao, s.nearest_airport_km,
        )
    )))  # fmt: skip


def _checked(row: list[Any]) -> list[Any]:
    """``row`` if this code knows its layout. A layout it does not know (a newer deploy
    wrote it) is the store's problem, not the caller's: ``StoreUnavailable``, to fall back."""
    if row[0] != _VERSION:
        raise StoreUnavailable(f"live index holds state layout {row[0]!r}, expected {_VERSION}")
    return row


def state_from_row(r: list[Any]) -> FlightState:
    ts = datetime.fromtimestamp
    return FlightState.trusted(
        {
            "icao24": r[1], "non_icao": r[2], "callsign": r[3], "origin_country": r[4],
            "time_position": None if r[5] is None else ts(r[5], UTC),
            "last_contact": ts(r[6], UTC), "latitude": r[7], "longitude": r[8],
            "baro_altitude_m": r[9], "geo_altitude_m": r[10], "on_ground": r[11],
            "velocity_mps": r[12], "true_track_deg": r[13], "vertical_rate_mps": r[14],
            "squawk": r[15], "spi": r[16],
            "position_source": None if r[17] is None else _POSITION_SOURCES.get(r[17]),
            "category": r[18], "source": _SOURCES[r[19]], "region": r[20],
            "grid_cell": r[21], "phase": None if r[22] is None else _PHASES[r[22]],
            "nearest_airport_icao": r[23], "nearest_airport_km": r[24],
        }
    )  # fmt: skip


# --- bounding boxes as GEOSEARCH boxes ---


def search_boxes(box: BoundingBox) -> list[tuple[float, float, float, float]]:
    """``(longitude, latitude, width_m, height_m)`` of GEOSEARCH boxes containing ``box``.

    Redis accepts a point when its distance to the centre's meridian, measured along a
    great circle at the point's latitude, is within half the width; ``_box`` widens
    enough for that test and for Redis's own cell pruning to cover every point of ``box``.
    """
    south, north = _clamp_lat(box.south - _PAD_DEG), _clamp_lat(box.north + _PAD_DEG)
    spans = (
        [(box.west, 180.0), (-180.0, box.east)]
        if box.crosses_antimeridian
        else [(box.west, box.east)]
    )
    return [_box(south, west - _PAD_DEG, north, east + _PAD_DEG) for west, east in spans]


def _clamp_lat(latitude: float) -> float:
    return min(max(latitude, -LAT_LIMIT), LAT_LIMIT)


def _box(south: float, west: float, north: float, east: float) -> tuple[float, float, float, float]:
    half_lon = math.radians(east - west) / 2
    near = 0.0 if south <= 0 <= north else min(abs(south), abs(north))
    far = max(abs(south), abs(north))
    by_distance = (
        2 * _EARTH_M * math.asin(min(1.0, math.cos(math.radians(near)) * math.sin(half_lon / 2)))
    )
    by_pruning = _EARTH_M * half_lon * math.cos(math.radians(far))
    half_width = max(by_distance, by_pruning)
    height = _EARTH_M * math.radians(north - south)
    lon = min(max((west + east) / 2, -180.0), 180.0)
    return lon, (south + north) / 2, 2 * half_width + _PAD_M, height + _PAD_M


# --- filtering stored arrays exactly as SQLite's WHERE clause does ---


def _starts(callsign: str | None, prefix: str) -> bool:
    return callsign is not None and fold_ascii(callsign).startswith(prefix)


def _predicate(flt: FlightFilter) -> Callable[[list[Any]], bool]:
    box = flt.bbox
    prefix = fold_ascii(flt.callsign_prefix.strip()) if flt.callsign_prefix else None
    country = fold_ascii(flt.origin_country) if flt.origin_country else None
    since = flt.since.timestamp() if flt.since is not None else None

    def matches(r: list[Any]) -> bool:
        lat, lon = r[_LAT], r[_LON]
        return (
            lat is not None
            and lon is not None
            and (box is None or box.contains(lat, lon))
            and (prefix is None or _starts(r[_CALLSIGN], prefix))
            and (country is None or (r[_COUNTRY] is not None
                                     and fold_ascii(r[_COUNTRY]) == country))
            and (flt.on_ground is None or r[_GROUND] == flt.on_ground)
            and (since is None or r[_CONTACT] >= since)
        )  # fmt: skip

    return matches


# --- Lua: conditional put, fetch, lazy prune ---

_PUT = """
-- KEYS: geo, newest, complete_since, then one state hash per state
-- ARGV: ttl, restart ('1' after missed writes), then per state 6 values:
--       member, key time, last contact, longitude, latitude ('' without position), state
local ttl, written = ARGV[1], 0
local newest = tonumber(redis.call('GET', KEYS[2]))
local newest_raw = nil
if ARGV[2] == '1' or redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('SET', KEYS[3], tonumber(redis.call('TIME')[1]) + 1)
end
for i = 4, #KEYS do
  local a = 3 + (i - 4) * 6
  local stored = redis.call('HGET', KEYS[i], 't')
  if not stored or tonumber(stored) <= tonumber(ARGV[a + 1]) then
    redis.call('HSET', KEYS[i], 't', ARGV[a + 1], 's', ARGV[a + 5])
    redis.call('EXPIRE', KEYS[i], ttl)
    if ARGV[a + 3] == '' then
      redis.call('ZREM', KEYS[1], ARGV[a])
    else
      redis.call('GEOADD', KEYS[1], ARGV[a + 3], ARGV[a + 4], ARGV[a])
    end
    local contact = tonumber(ARGV[a + 2])
    if not newest or contact > newest then newest, newest_raw = contact, ARGV[a + 2] end
    written = written + 1
  end
end
if newest_raw then redis.call('SET', KEYS[2], newest_raw, 'EX', ttl) end
return written
"""

# Replies are joined into one string: parsing thousands of reply elements in redis-py
# costs more than the search itself. icao24s hold no commas; orjson never emits newlines.
_FIND = """
local found = {}
if #ARGV == 0 then
  found = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  for i = 1, #ARGV, 4 do
    local box = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[i], ARGV[i + 1],
                           'BYBOX', ARGV[i + 2], ARGV[i + 3], 'm')
    for _, member in ipairs(box) do found[#found + 1] = member end
  end
end
return table.concat(found, ',')
"""

_FETCH = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], 's') or 'null' end
return '[' .. table.concat(out, ',') .. ']'
"""

# Remove geo members whose hash expired, unless a put brought them back meanwhile.
_PRUNE = """
local removed = 0
for i = 2, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i - 1])
  end
end
return removed
"""


def _num(value: float) -> str:
    return repr(float(value))


class RedisLiveIndex:
    """Latest states in Redis; see the module docstring for keys and guarantees."""

    def __init__(
        self, client: RedisClient, *, prefix: str = "flightdata", ttl_s: int = 300
    ) -> None:
        self._client = client
        self.prefix = prefix
        self.ttl_s = ttl_s
        self._geo = f"{prefix}:live:geo"
        self._state = f"{prefix}:live:state:"
        self._newest = f"{prefix}:live:newest"
        self._complete = f"{prefix}:live:complete_since"
        self._missed = False

    def put(self, states: Sequence[FlightState]) -> int:
        """Store states not older than the stored ones; returns how many were written."""
        if not states:
            return 0
        restart = self._missed
        pipe = self._client.pipeline(transaction=False)
        for start in range(0, len(states), _CHUNK):
            keys = [self._geo, self._newest, self._complete]
            args: list[Any] = [self.ttl_s, "1" if restart else "0"]
            for s in states[start : start + _CHUNK]:
                keys.append(self._state + s.icao24)
                lon, lat = ("", "") if s.latitude is None or s.longitude is None else (
                    _num(s.longitude), _num(_clamp_lat(s.latitude))
                )  # fmt: skip
                args += [s.icao24, _num(s.time.timestamp()), _num(s.last_contact.timestamp())]
                args += [lon, lat, encode_state(s)]
            pipe.execute_command("EVAL", _PUT, len(keys), *keys, *args)
            restart = False
        try:
            written = sum(int(n) for n in pipe.execute())
        except RedisError as exc:
            # Whatever this put missed may be newer than what Redis holds: the next put
            # restarts completeness so that readers go to the store until it is safe.
            self._missed = True
            raise StoreUnavailable(f"live index put failed: {exc}") from exc
        self._missed = False
        return written

    def search(
        self, flt: FlightFilter, *, first: int, after: str | None = None
    ) -> Page[FlightState]:
        """Like ``FlightRepository.search_latest``, over the states the index holds."""
        last = None if after is None else cursor.decode("flights", after)
        if after is not None and type(last) is not str:
            raise cursor.invalid(after)
        matches = _predicate(flt)
        rows = [r for r in self._rows(sorted(self._candidates(flt.bbox))) if matches(r)]
        total = len(rows)
        if last is not None:
            rows = [r for r in rows if r[_ICAO] > last]
        items = [state_from_row(r) for r in rows[:first]]
        return Page(
            items=items,
            cursors=[cursor.encode("flights", s.icao24) for s in items],
            total_count=total,
            has_next_page=len(rows) > first,
        )

    def all_latest(self, flt: FlightFilter) -> list[FlightState]:
        """Like ``FlightRepository.all_latest``, over the states the index holds."""
        matches = _predicate(flt)
        rows = self._rows(sorted(self._candidates(flt.bbox)))
        return [state_from_row(r) for r in rows if matches(r)]

    def latest(self, icao24: str) -> FlightState | None:
        return self.latest_many([icao24]).get(icao24)

    def latest_many(self, icao24s: Sequence[str]) -> dict[str, FlightState]:
        return {r[_ICAO]: state_from_row(r) for r in self._rows(list(icao24s), prune=False)}

    def newest_contact(self) -> datetime | None:
        """The largest last_contact put within the ttl; ``None`` once it expired."""
        value = self._call("GET", self._newest)
        return None if value is None else datetime.fromtimestamp(float(value), UTC)

    def complete_since(self) -> tuple[float | None, float]:
        """``(since, now)`` in Redis's clock: every put from ``since`` on reached the
        index (``None``: not known to be complete), and Redis's current time."""
        pipe = self._client.pipeline(transaction=False)
        pipe.execute_command("GET", self._complete)
        pipe.execute_command("TIME")
        try:
            since, (seconds, micros) = pipe.execute()
        except RedisError as exc:
            raise StoreUnavailable(f"live index unavailable: {exc}") from exc
        return (None if since is None else float(since)), int(seconds) + int(micros) / 1e6

    def _candidates(self, box: BoundingBox | None) -> set[str]:
        boxes = [] if box is None else [v for b in search_boxes(box) for v in b]
        found: bytes = self._call("EVAL", _FIND, 1, self._geo, *boxes)
        # A very large box can list a member twice (Redis visits overlapping cells).
        return set(found.decode().split(",")) if found else set()

    def _rows(self, icao24s: list[str], *, prune: bool = True) -> list[list[Any]]:
        if not icao24s:
            return []
        keys = [self._state + code for code in icao24s]
        found: list[Any] = orjson.loads(self._call("EVAL", _FETCH, len(keys), *keys))
        gone = [code for code, row in zip(icao24s, found, strict=True) if row is None]
        if prune and gone:
            self._prune(gone)
        return [_checked(row) for row in found if row is not None]

    def _prune(self, icao24s: Iterable[str]) -> None:
        codes = list(icao24s)
        keys = [self._geo, *(self._state + c for c in codes)]
        try:
            self._call("EVAL", _PRUNE, len(keys), *keys, *codes)
        except StoreUnavailable as exc:  # the next search tries again
            log.warning("pruning expired live members failed: %s", exc)

    def _call(self, *args: Any) -> Any:
        try:
            return self._client.execute_command(*args)
        except RedisError as exc:
            raise StoreUnavailable(f"live index unavailable: {exc}") from exc
