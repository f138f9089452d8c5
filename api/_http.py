"""What the REST and peer-compatible endpoints share: reading query parameters, JSON
answers, and the live window that the flights query also applies.

Parameter readers raise ``InvalidArgument`` with a message naming the parameter and what
was wrong; ``guarded`` turns it into a 400 ``{"error": "..."}`` and an unreachable store
into a 503, so a bad request never becomes a 500.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from domain import BoundingBox, InvalidArgument
from storage.base import FlightFilter, FlightRepository, StoreUnavailable, live_since

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def error(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def guarded(handler: Handler) -> Handler:
    """``handler`` with invalid arguments answered 400 and store outages 503."""

    async def guarded_handler(request: Request) -> Response:
        try:
            return await handler(request)
        except InvalidArgument as exc:
            return error(str(exc))
        except StoreUnavailable as exc:
            log.warning("%s: store unavailable: %s", request.url.path, exc)
            return error("the store is unavailable; try again shortly", 503)

    return guarded_handler


def single(params: QueryParams, name: str) -> str | None:
    """The one value of ``name``; ``None`` when absent or empty; an error when given twice."""
    values = [value for value in params.getlist(name) if value != ""]
    if len(values) > 1:
        raise InvalidArgument(f"{name} is given {len(values)} times; give it once", value=values)
    return values[0] if values else None


def number(params: QueryParams, name: str) -> float | None:
    raw = single(params, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidArgument(f"{name} must be a number, got {raw!r}", value=raw)
    return value


# ASCII digits that fit 64 bits: int() also takes "1_000" and digits of other scripts.
_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")


def integer(
    params: QueryParams, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    raw = single(params, name)
    if raw is None:
        return None
    if _WHOLE.fullmatch(raw.strip()) is None:
        raise InvalidArgument(f"{name} must be a whole number, got {raw[:40]!r}", value=raw)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise InvalidArgument(f"{name} must be at least {minimum}, got {value}", value=value)
    if maximum is not None and value > maximum:
        raise InvalidArgument(f"{name} must be at most {maximum}, got {value}", value=value)
    return value


def boolean(params: QueryParams, name: str) -> bool | None:
    raw = single(params, name)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in {"1", "true", "yes"}:
        return True
    if value in {"0", "false", "no"}:
        return False
    raise InvalidArgument(f"{name} must be true or false (or 1 or 0), got {raw!r}", value=raw)


_CORNERS = ("lamin", "lomin", "lamax", "lomax")


def corners_bbox(params: QueryParams) -> BoundingBox | None:
    """OpenSky's box: ``lamin``, ``lomin``, ``lamax``, ``lomax``, all four or none.

    ``lomin > lomax`` is a box across the antimeridian.
    """
    values = [number(params, name) for name in _CORNERS]
    given = [value for value in values if value is not None]
    if not given:
        return None
    if len(given) < len(_CORNERS):
        missing = ", ".join(n for n, v in zip(_CORNERS, values, strict=True) if v is None)
        raise InvalidArgument(
            f"a bounding box needs lamin, lomin, lamax and lomax; {missing} missing"
        )
    lamin, lomin, lamax, lomax = given
    return _box(lamin, lomin, lamax, lomax, "lamin", "lamax", "lomin", "lomax")


def csv_bbox(params: QueryParams, name: str = "bbox") -> BoundingBox | None:
    """``bbox=south,west,north,east`` in degrees."""
    raw = single(params, name)
    if raw is None:
        return None
    parts = raw.split(",")
    try:
        south, west, north, east = (float(p) for p in parts)
    except ValueError:
        south = west = north = east = math.nan
    if not all(math.isfinite(v) for v in (south, west, north, east)):
        raise InvalidArgument(
            f"{name} must be four numbers south,west,north,east, got {raw!r}", value=raw
        )
    return _box(south, west, north, east, "south", "north", "west", "east")


def _box(south: float, west: float, north: float, east: float, *names: str) -> BoundingBox:
    s_name, n_name, w_name, e_name = names
    for label, value, limit in (
        (s_name, south, 90),
        (n_name, north, 90),
        (w_name, west, 180),
        (e_name, east, 180),
    ):
        if not -limit <= value <= limit:
            raise InvalidArgument(
                f"{label} must be between -{limit} and {limit} degrees, got {value:g}", value=value
            )
    if south > north:
        raise InvalidArgument(
            f"{s_name} ({south:g}) must not be greater than {n_name} ({north:g})",
            value=(south, north),
        )
    return BoundingBox(south=south, west=west, north=north, east=east)


def live_filter(
    flights: FlightRepository, live_window_s: float, **filters: Any
) -> tuple[FlightFilter, datetime | None]:
    """The ``FlightFilter`` of live aircraft matching ``filters``, and the newest contact."""
    newest, since = live_since(flights, live_window_s)
    return FlightFilter(since=since, **filters), newest
