"""The REST API: ``GET /v1/flights`` and ``GET /v1/flights/{icao24}``.

``/v1/flights`` lists the latest state of each live aircraft (the same set as the GraphQL
``flights`` query: heard from within ``FLIGHTDATA_LIVE_WINDOW`` of the newest data, with
a position), ordered by ``icao24``, a page at a time::

    GET /v1/flights?bbox=49.5,-11,61,2&limit=100
    GET /v1/flights?lamin=49.5&lomin=-11&lamax=61&lomax=2&cursor=WyJmbGlnaHRzIiwiNDA2...

    {"time": "2026-11-27T10:00:04+00:00", "total_count": 812,
     "next_cursor": "WyJmbGlnaHRzIiwiNDA2YjkwIl0", "flights": [{"icao24": "4006ba", ...}]}

=================  ==============================================================
parameter          meaning
=================  ==============================================================
bbox               ``south,west,north,east`` in degrees (west > east crosses the
                   antimeridian); or the four OpenSky names below
lamin ... lomax    the same box as OpenSky spells it
callsign_prefix    callsigns starting with this (case-insensitive)
origin_country     the country of registration (case-insensitive)
on_ground          true or false
limit              page size, 1 to ``MAX_PAGE_SIZE`` (default 100)
cursor             ``next_cursor`` of the previous page
=================  ==============================================================

Each flight carries the canonical fields in SI units (``baro_altitude_m``,
``velocity_mps``, ``vertical_rate_mps``, ``true_track_deg``) and ISO 8601 UTC times.
An unknown or malformed parameter is a 400 ``{"error": "..."}`` that says what is wrong.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api._http import (
    boolean,
    corners_bbox,
    csv_bbox,
    error,
    guarded,
    integer,
    json_response,
    live_filter,
    single,
)
from config import Settings
from domain import FlightState, InvalidArgument
from domain.flight import normalise_icao24
from storage.base import Page
from storage.offload import offload
from storage.stores import Stores

DEFAULT_LIMIT = 100
_PARAMS = frozenset(
    {
        "bbox",
        "lamin",
        "lomin",
        "lamax",
        "lomax",
        "callsign_prefix",
        "origin_country",
        "on_ground",
        "limit",
        "cursor",
    }
)


def flight_json(s: FlightState) -> dict[str, Any]:
    """One flight as the REST API writes it."""
    return {
        "icao24": s.icao24,
        "non_icao": s.non_icao,
        "callsign": s.callsign,
        "origin_country": s.origin_country,
        "time_position": s.time_position.isoformat() if s.time_position else None,
        "last_contact": s.last_contact.isoformat(),
        "latitude": s.latitude,
        "longitude": s.longitude,
        "baro_altitude_m": s.baro_altitude_m,
        "geo_altitude_m": s.geo_altitude_m,
        "on_ground": s.on_ground,
        "velocity_mps": s.velocity_mps,
        "true_track_deg": s.true_track_deg,
        "vertical_rate_mps": s.vertical_rate_mps,
        "squawk": s.squawk,
        "spi": s.spi,
        "position_source": s.position_source.name if s.position_source is not None else None,
        "category": s.category,
        "source": s.source.value,
        "region": s.region,
        "phase": s.phase.value if s.phase is not None else None,
        "nearest_airport_icao": s.nearest_airport_icao,
        "nearest_airport_km": s.nearest_airport_km,
    }


def _check_names(request: Request) -> None:
    unknown = sorted(set(request.query_params) - _PARAMS)
    if unknown:
        raise InvalidArgument(
            f"unknown parameter {unknown[0]!r} (expected {', '.join(sorted(_PARAMS))})",
            value=unknown,
        )


def _bbox(request: Request) -> Any:
    params = request.query_params
    corners, csv = corners_bbox(params), csv_bbox(params)
    if corners is not None and csv is not None:
        raise InvalidArgument("give the box once: either bbox or lamin/lomin/lamax/lomax")
    return corners or csv


def routes(stores: Stores, settings: Settings) -> list[Route]:
    def page(request: Request) -> dict[str, Any]:
        _check_names(request)
        params = request.query_params
        limit = integer(params, "limit", minimum=1)
        limit = DEFAULT_LIMIT if limit is None else limit
        if limit > settings.max_page_size:
            raise InvalidArgument(
                f"limit must be between 1 and {settings.max_page_size} (MAX_PAGE_SIZE), "
                f"got {limit}",
                value=limit,
            )
        flt, newest = live_filter(
            stores.flights,
            settings.live_window_s,
            bbox=_bbox(request),
            callsign_prefix=single(params, "callsign_prefix"),
            origin_country=single(params, "origin_country"),
            on_ground=boolean(params, "on_ground"),
        )
        found: Page[FlightState] = stores.flights.search_latest(
            flt, first=limit, after=single(params, "cursor")
        )
        return {
            "time": newest.isoformat() if newest else None,
            "total_count": found.total_count,
            "next_cursor": found.end_cursor if found.has_next_page else None,
            "flights": [flight_json(s) for s in found.items],
        }

    @guarded
    async def flights(request: Request) -> Response:
        return json_response(await offload(page, request))

    @guarded
    async def flight(request: Request) -> Response:
        raw = request.path_params["icao24"]
        try:
            code = normalise_icao24(raw)
        except ValueError as exc:
            raise InvalidArgument(
                f'icao24 must be 6 hexadecimal digits such as "3c6444", got {raw!r}'
            ) from exc
        state = await offload(stores.flights.latest, code)
        if state is None:
            return error(f"no aircraft {code} has been seen", 404)
        return json_response(flight_json(state))

    return [
        Route("/v1/flights", flights, methods=["GET"]),
        Route("/v1/flights/{icao24}", flight, methods=["GET"]),
    ]
