"""An OpenSky-compatible ``GET /api/states/all``, so OpenSky clients can use this service.

Point a client's base URL at ``http://host:port/api``; it asks and is answered as OpenSky
would (``openskynetwork/opensky-api`` ``docs/free/rest.rst``, ``states-response.rst``)::

    GET /api/states/all?lamin=45.8&lomin=5.9&lamax=47.8&lomax=10.5&extended=1

    {"time": 1764237604, "states": [["4b1816", "SWR1951 ", "Switzerland", 1764237603,
      1764237603, 8.5471, 47.4582, 8534.4, false, 258.66, 66.19, 0.0, null, 8755.38,
      "5551", false, 0, 4], ...]}

Parameters: ``time`` (unix seconds; accepted and, as for OpenSky's anonymous users,
ignored: the answer is always the latest states), ``icao24`` (repeatable, hex),
``lamin``/``lomin``/``lamax``/``lomax`` (all four or none), ``extended`` (1 or true: add
the 18th element, ``category``). Other parameters are ignored. ``states`` is ``null``
when no aircraft matches, as OpenSky sends it.

State vector, by index (OpenSky's units: m, m/s, degrees, unix seconds):

===  ===============  ============================================================
0    icao24           6 lowercase hex digits
1    callsign         padded to 8 characters; ``""`` when none was heard, as OpenSky sends it
2    origin_country   from the address; ``""`` when unknown, as OpenSky sends it
3    time_position    int unix s of the position, or null
4    last_contact     int unix s of the last message
5    longitude        degrees
6    latitude         degrees
7    baro_altitude    m, or null; kept on the ground when the source gave one, as OpenSky
                      does
8    on_ground        bool
9    velocity         m/s over ground, or null
10   true_track       degrees clockwise from north, or null
11   vertical_rate    m/s, positive climbing, or null
12   sensors          always null (no sensor filter)
13   geo_altitude     m, or null
14   squawk           4 octal digits, or null
15   spi              bool
16   position_source  0 ADS-B, 1 ASTERIX, 2 MLAT, 3 FLARM; null when the source did not
                      say (a readsb TIS-B or Mode S position)
17   category         0..20 (0: no information); only with ``extended``
===  ===============  ============================================================

Where it differs from OpenSky: the aircraft are those the GraphQL ``flights`` query lists
(heard from within ``FLIGHTDATA_LIVE_WINDOW`` of the newest data, with a position), and a
position is not withheld after 15 s: ``time_position`` tells its age. ``time`` is the
newest ``last_contact`` in the store (the current time when it is empty).

Rate limits are the service's own (``FLIGHTDATA_RATE_TIERS``), told in OpenSky's headers
as well as the ``RateLimit-*`` ones (``security.ratelimit.opensky_headers``):
``X-Rate-Limit-Remaining`` on every answer (requests left, where OpenSky counts credits),
and ``X-Rate-Limit-Retry-After-Seconds`` on a 429, which OpenSky's clients wait for.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api._http import boolean, corners_bbox, guarded, integer, json_response
from config import Settings
from domain import FlightState, InvalidArgument
from domain.flight import normalise_icao24
from storage.base import FlightFilter, live_since
from storage.offload import offload
from storage.stores import Stores

LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z, the largest ``time`` taken


def state_vector(s: FlightState, *, extended: bool) -> list[Any]:
    """``s`` as OpenSky's 17-element state vector (18 with ``extended``)."""
    vector: list[Any] = [
        s.icao24,
        s.callsign.ljust(8) if s.callsign else "",
        s.origin_country or "",
        int(s.time_position.timestamp()) if s.time_position else None,
        int(s.last_contact.timestamp()),
        s.longitude,
        s.latitude,
        s.baro_altitude_m,
        s.on_ground,
        s.velocity_mps,
        s.true_track_deg,
        s.vertical_rate_mps,
        None,
        s.geo_altitude_m,
        s.squawk,
        s.spi,
        int(s.position_source) if s.position_source is not None else None,
    ]
    if extended:
        vector.append(s.category or 0)
    return vector


def _icao24s(request: Request) -> list[str]:
    codes = []
    for raw in request.query_params.getlist("icao24"):
        try:
            codes.append(normalise_icao24(raw))
        except ValueError as exc:
            raise InvalidArgument(
                f"icao24 must be 6 hexadecimal digits such as 3c6444, got {raw!r}", value=raw
            ) from exc
    return codes


def routes(stores: Stores, settings: Settings) -> list[Route]:
    def answer(request: Request) -> dict[str, Any]:
        params = request.query_params
        integer(params, "time", minimum=0, maximum=LAST_SECOND)  # checked, then ignored
        extended = bool(boolean(params, "extended"))
        codes, box = _icao24s(request), corners_bbox(params)
        flights = stores.flights
        newest, since = live_since(flights, settings.live_window_s)
        if newest is None or since is None:
            return {"time": int(time.time()), "states": None}
        if codes:
            found = sorted(flights.latest_many(sorted(set(codes))).values(), key=_icao24)
            states = [
                s
                for s in found
                if s.last_contact >= since
                and s.latitude is not None
                and s.longitude is not None
                and (box is None or box.contains(s.latitude, s.longitude))
            ]
        else:
            states = flights.all_latest(FlightFilter(bbox=box, since=since))
        return {
            "time": int(newest.timestamp()),
            "states": [state_vector(s, extended=extended) for s in states] or None,
        }

    @guarded
    async def states_all(request: Request) -> Response:
        return json_response(await offload(answer, request))

    return [Route("/api/states/all", states_all, methods=["GET"])]


def _icao24(state: FlightState) -> str:
    return state.icao24
