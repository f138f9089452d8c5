"""A readsb-compatible backend for tar1090: ``/data/receiver.json``, ``/data/aircraft.json``
and ``/data/traces/{xx}/trace_{recent,full}_{hex}.json``.

A stock tar1090 page whose ``data/`` is proxied to this service shows the live traffic,
and the track of a clicked aircraft (readsb ``README-json.md``; tar1090 ``html/early.js``,
``script.js``, ``planeObject.js``).

``receiver.json``: ``{"version", "refresh" (ms between polls: one ingest interval, at least
1 s), "history": 0, "readsb": true, "haveTraces": true, "lat", "lon"}``. ``haveTraces``
makes tar1090 fetch traces without globe tiles; ``history: 0`` and no ``globeIndexGrid``
keep it polling ``aircraft.json``. ``lat``/``lon`` are ``FLIGHTDATA_SITE_LAT``/``_LON``,
else the median position of the live aircraft.

``aircraft.json``: ``{"now": unix s, "messages": the states counted since the process
started, "aircraft": [...]}`` with the aircraft the GraphQL ``flights`` query lists that
were heard from within 60 s of ``now`` (readsb's ``TRACK_EXPIRE``; twice the ingest
interval when that is longer, so that a slow source does not blink out between cycles), in
readsb's names and units (keys without a value are left out, as readsb does):

==========  ==========================================  ===============================
key         value                                       from the canonical state
==========  ==========================================  ===============================
hex         6 hex digits, ``~`` first for non-ICAO      icao24, non_icao
type        adsb_icao / adsb_other / mlat / other       position_source
flight      callsign padded to 8 characters             callsign
alt_baro    int ft, or ``"ground"``                     baro_altitude_m / 0.3048
alt_geom    int ft                                      geo_altitude_m / 0.3048
gs          kt, 1 decimal                               velocity_mps / 0.514444
track       degrees, 1 decimal                          true_track_deg
baro_rate   int ft/min                                  vertical_rate_mps / 0.00508
squawk      4 octal digits                              squawk
category    A0..A7, B1..B7, C1..C5                      category (OpenSky's 1..20)
spi         1 when set                                  spi
lat, lon    degrees                                     latitude, longitude
seen_pos    s before ``now``, 1 decimal                 now - time_position
messages    states of it listed, from 1 (see below)     counted by this process
seen        s before ``now``, 1 decimal                 now - last_contact
==========  ==========================================  ===============================

A position 60 s old or older (the same expiry) is no longer current: ``lat``, ``lon`` and
``seen_pos`` give way to ``lastPosition: {lat, lon, seen_pos}``, as readsb writes it.
``now`` is the time of the answer, so ``seen`` grows between ingest cycles as readsb's
does. readsb's ``messages`` counts the Mode S messages it decoded from the aircraft; the
sources here deliver states, not messages, so it counts the states of the aircraft this
process has listed (one per ingest cycle that heard it), from 1 when the aircraft appears:
tar1090's "Msg. Rate" then shows updates a second. Each process counts for itself, so
behind several API processes the count of one aircraft differs between them.

Traces: ``{"icao": hex, "timestamp": unix s of the first point, "trace": [row, ...]}``, a
row being ``[s after timestamp, lat, lon, alt ft | "ground" | null, gs kt, track, flags,
baro_rate ft/min, details | null, type, alt_geom ft, null, null, null]`` (the last three:
geom_rate, ias, roll, which no source here gives). Flags: 1 the position follows a gap of
more than two ingest intervals (at least 20 s, readsb's "stale"); 2 the first airborne
point after the ground (a new leg); 8 the altitude is geometric (no barometric one).
``details`` is the full aircraft object, as ``aircraft.json`` has it at that point less what
the row's own columns hold (``hex``, ``alt_baro``, ``gs``, ``lat``, ``lon``, ``seen``,
``seen_pos``): sent on the first row and whenever ``type``, ``flight``, ``squawk``,
``category`` or ``spi`` changes. ``trace_full`` covers ``FLIGHTDATA_HISTORY_HOURS`` (at
most 24 h) up to the aircraft's latest state, ``trace_recent`` its last 10 minutes; an
aircraft never seen, or without a position in that span, is a 404.

``aircraft.json`` and the traces are sent with ``Cache-Control: no-cache``: tar1090 polls
them for what changed, and a cached copy would freeze the map.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from datetime import timedelta
from importlib import metadata
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api._http import error, guarded, json_response
from config import Settings
from domain import FlightState, PositionSource
from domain.flight import normalise_icao24
from domain.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS
from storage.base import live_states
from storage.offload import offload
from storage.stores import Stores

RECENT = timedelta(minutes=10)
MAX_FULL = timedelta(hours=24)
_STALE_GAP_MIN_S = 20.0
# readsb's TRACK_EXPIRE: a position this old is no longer current, and an aircraft not
# heard from for this long leaves aircraft.json (json_out.c includeAircraftJson).
EXPIRE_S = 60.0
_AIRCRAFT_EVERY_S = 1.0
# tar1090 polls these for what changed since: a cached copy would freeze the map.
_NO_CACHE = {"Cache-Control": "no-cache"}
_TRACE = re.compile(r"trace_(recent|full)_(~?[0-9a-fA-F]{6})\.json")
# OpenSky's emitter category codes (1..20) back to ADS-B's (inverse of ingestion.adsbx).
_CATEGORY = {
    1: "A0",
    **{1 + i: f"A{i}" for i in range(1, 8)},
    **{8 + i: f"B{i}" for i in range(1, 8)},
    **{15 + i: f"C{i}" for i in range(1, 6)},
}


def _version() -> str:
    try:
        return f"flightdata {metadata.version('flightdata')}"
    except metadata.PackageNotFoundError:
        return "flightdata"


def hex_of(s: FlightState) -> str:
    return f"~{s.icao24}" if s.non_icao else s.icao24


def message_type(s: FlightState) -> str | None:
    """readsb's ``type`` (the source of the position) for the canonical position source."""
    source = s.position_source
    if source is None:
        return None
    if source == PositionSource.ADSB:
        return "adsb_other" if s.non_icao else "adsb_icao"
    if source == PositionSource.MLAT:
        return "mlat"
    return "other"  # ASTERIX radar, FLARM: neither has a readsb type of its own


def _feet(metres: float | None) -> int | None:
    return None if metres is None else round(metres / FT_TO_M)


def altitude(s: FlightState) -> tuple[int | str | None, bool]:
    """readsb's altitude of ``s`` and whether it is geometric: "ground", baro ft, else geo ft."""
    if s.on_ground:
        return "ground", False
    if s.baro_altitude_m is not None:
        return _feet(s.baro_altitude_m), False
    return _feet(s.geo_altitude_m), s.geo_altitude_m is not None


def _knots(mps: float | None) -> float | None:
    return None if mps is None else round(mps / KT_TO_MPS, 1)


def _fpm(mps: float | None) -> int | None:
    return None if mps is None else round(mps / FPM_TO_MPS)


def aircraft_entry(
    s: FlightState, now: float, *, messages: int | None = None, expire_s: float = EXPIRE_S
) -> dict[str, Any]:
    """One ``aircraft.json`` entry (see the module docstring); keys without data left out.

    A position older than ``expire_s`` is no longer current: it moves to ``lastPosition``.
    """
    position_age = None
    if s.latitude is not None and s.longitude is not None:
        position_age = round(max(0.0, now - s.time.timestamp()), 1)
    current = position_age is not None and position_age < expire_s
    entry: dict[str, Any] = {
        "hex": hex_of(s),
        "type": message_type(s),
        "flight": s.callsign.ljust(8) if s.callsign else None,
        "alt_baro": "ground" if s.on_ground else _feet(s.baro_altitude_m),
        "alt_geom": _feet(s.geo_altitude_m),
        "gs": _knots(s.velocity_mps),
        "track": None if s.true_track_deg is None else round(s.true_track_deg, 1),
        "baro_rate": _fpm(s.vertical_rate_mps),
        "squawk": s.squawk,
        "category": _CATEGORY.get(s.category) if s.category else None,
        "spi": 1 if s.spi else None,
        "lat": s.latitude if current else None,
        "lon": s.longitude if current else None,
        "seen_pos": position_age if current else None,
        "lastPosition": (
            {"lat": s.latitude, "lon": s.longitude, "seen_pos": position_age}
            if position_age is not None and not current
            else None
        ),
        "messages": messages,
        "seen": round(max(0.0, now - s.last_contact.timestamp()), 1),
    }
    return {k: v for k, v in entry.items() if v is not None}


def listed(s: FlightState, now: float, expire_s: float = EXPIRE_S) -> bool:
    """Whether ``aircraft.json`` lists ``s``: heard from within ``expire_s`` of ``now``."""
    return now - s.last_contact.timestamp() < expire_s


# What a trace row holds in its own columns, or what only aircraft.json has.
_NOT_IN_DETAILS = ("hex", "alt_baro", "gs", "lat", "lon", "seen_pos", "lastPosition", "seen")
# A change of one of these starts a row with details.
_IDENTITY = ("type", "flight", "squawk", "category", "spi")


def _details(s: FlightState) -> dict[str, Any]:
    """The aircraft object of a trace row: the ``aircraft.json`` entry of ``s`` at its own
    time, less the keys the row has columns for (readsb's trace details)."""
    entry = aircraft_entry(s, s.time.timestamp())
    return {k: v for k, v in entry.items() if k not in _NOT_IN_DETAILS}


def trace(code: str, states: list[FlightState], *, stale_gap_s: float) -> dict[str, Any]:
    """readsb's trace document of ``states`` (oldest first, each with a position)."""
    start = states[0].time.timestamp()
    rows: list[list[Any]] = []
    previous: FlightState | None = None
    last_identity: tuple[Any, ...] | None = None
    for s in states:
        at = s.time.timestamp()
        alt, geometric = altitude(s)
        flags = 8 if geometric else 0
        if previous is not None:
            if at - previous.time.timestamp() > stale_gap_s:
                flags |= 1
            if previous.on_ground and not s.on_ground:
                flags |= 2
        details = _details(s)
        identity = tuple(details.get(key) for key in _IDENTITY)
        rows.append(
            [
                round(at - start, 2),
                s.latitude,
                s.longitude,
                alt,
                _knots(s.velocity_mps),
                None if s.true_track_deg is None else round(s.true_track_deg, 1),
                flags,
                _fpm(s.vertical_rate_mps),
                details if identity != last_identity else None,
                message_type(s),
                _feet(s.geo_altitude_m),
                None,
                None,
                None,
            ]
        )
        previous, last_identity = s, identity
    return {"icao": code, "timestamp": start, "trace": rows}


class UpdateCounts:
    """The ``messages`` of each aircraft in ``aircraft.json``: how many states of it this
    process has listed, counting from 1 when it (re)appears; ``total`` counts them all
    since the process started. Thread-safe (builds run on worker threads)."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[float, int]] = {}  # icao24 -> (last contact, count)
        self._lock = threading.Lock()
        self.total = 0

    def count(self, states: list[FlightState]) -> list[int]:
        """The count of each of ``states``; aircraft not among them are forgotten."""
        with self._lock:
            seen: dict[str, tuple[float, int]] = {}
            for s in states:
                at = s.last_contact.timestamp()
                before = self._seen.get(s.icao24)
                new = before is None or at != before[0]
                seen[s.icao24] = (at, (0 if before is None else before[1]) + new)
                self.total += new
            self._seen = seen
            return [seen[s.icao24][1] for s in states]


def routes(stores: Stores, settings: Settings) -> list[Route]:
    refresh_ms = max(1000, round(settings.interval_s * 1000))
    stale_gap_s = max(_STALE_GAP_MIN_S, 2 * settings.interval_s)
    # A source polled less often than readsb's expiry would blink out between cycles.
    expire_s = max(EXPIRE_S, 2 * settings.interval_s)
    counts = UpdateCounts()
    full_span = min(timedelta(hours=settings.history_hours), MAX_FULL)

    def live() -> list[FlightState]:
        return live_states(stores.flights, settings.live_window_s)

    def receiver_body() -> dict[str, Any]:
        body: dict[str, Any] = {
            "version": _version(),
            "refresh": refresh_ms,
            "history": 0,
            "readsb": True,
            "haveTraces": True,
        }
        if settings.site_lat is not None and settings.site_lon is not None:
            body["lat"], body["lon"] = settings.site_lat, settings.site_lon
        elif positions := [(s.latitude, s.longitude) for s in live() if s.has_position]:
            body["lat"] = round(statistics.median(p[0] for p in positions if p[0] is not None), 4)
            body["lon"] = round(statistics.median(p[1] for p in positions if p[1] is not None), 4)
        return body

    def aircraft_body() -> dict[str, Any]:
        now = time.time()
        states = [s for s in live() if listed(s, now, expire_s)]
        messages = counts.count(states)
        return {
            "now": round(now, 1),
            "messages": counts.total,
            "aircraft": [
                aircraft_entry(s, now, messages=n, expire_s=expire_s)
                for s, n in zip(states, messages, strict=True)
            ],
        }

    def trace_body(kind: str, raw_hex: str) -> dict[str, Any] | None:
        code = normalise_icao24(raw_hex)
        latest = stores.flights.latest(code)
        if latest is None:
            return None
        end = latest.time
        span = RECENT if kind == "recent" else full_span
        found = stores.flights.tracks([code], end - span, end).get(code, [])
        points = [s for s in found if s.has_position]
        if not points:
            return None
        return trace(raw_hex.lower(), points, stale_gap_s=stale_gap_s)

    @guarded
    async def receiver(request: Request) -> Response:
        return json_response(await offload(receiver_body))

    # readsb rewrites aircraft.json once a second; so does this, however many pages poll
    # it: the whole world costs about 75 ms to read and build.
    built: list[Any] = [float("-inf"), b""]  # monotonic time built, the encoded body

    @guarded
    async def aircraft(request: Request) -> Response:
        if time.monotonic() - built[0] >= _AIRCRAFT_EVERY_S:
            body = orjson.dumps(await offload(aircraft_body))
            built[:] = [time.monotonic(), body]
        return Response(built[1], media_type="application/json", headers=_NO_CACHE)

    @guarded
    async def traces(request: Request) -> Response:
        folder, name = request.path_params["folder"], request.path_params["name"]
        match = _TRACE.fullmatch(name)
        if match is None or folder.lower() != match.group(2)[-2:].lower():
            return error(f"no such trace: {folder}/{name}", 404)
        body = await offload(trace_body, match.group(1), match.group(2))
        if body is None:
            return error(f"no positions of {match.group(2)} to trace", 404)
        return json_response(body, headers=_NO_CACHE)

    return [
        Route("/data/receiver.json", receiver, methods=["GET"]),
        Route("/data/aircraft.json", aircraft, methods=["GET"]),
        Route("/data/traces/{folder}/{name}", traces, methods=["GET"]),
    ]
