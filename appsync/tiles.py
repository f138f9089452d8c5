"""Tiles and watched aircraft: how AppSync's real-time engine selects each subscriber's part
of a cycle.

The publisher sends each cycle as one ``publishFlightUpdates`` per tile of ``TILE_DEG``
degrees that has changes, and one per watched aircraft that moved (tile
``AIRCRAFT_TILE``, the aircraft in the payload's ``aircraft``). Each subscription gets an
enhanced subscription filter (``subscription_filter``):

- ``flightUpdates(icao24:)`` listing at most ``MAX_VALUES`` aircraft: the batches of those
  aircraft (``aircraft`` in the list); the resolver watches them, so they are published;
- else ``flightUpdates(bbox:)``: the batches of the tiles its box touches (``tile`` in the
  list), when they are at most ``MAX_VALUES``;
- else every tile (``tile`` is not ``AIRCRAFT_TILE``).

AppSync allows 10 groups of 5 values each (``in``), hence ``MAX_VALUES``.

Granularity: a tile's batch holds every changed aircraft of its tile, so a box subscriber
receives aircraft of its tiles that lie outside its box (the ASGI server sends the exact
box); a subscription with both ``icao24`` and ``bbox`` gets its aircraft wherever they
are; and one with more than ``MAX_VALUES`` aircraft gets the tiles of its box, or every
tile. Clients keep what they asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from domain import BoundingBox
from schema import arguments as checked

TILE_DEG = 15
ROWS = 180 // TILE_DEG
COLUMNS = 360 // TILE_DEG
_IN_VALUES = 5  # AppSync: values of one ``in`` filter
_GROUPS = 10  # AppSync: filters of one filterGroup
MAX_VALUES = _IN_VALUES * _GROUPS
# The tile of a batch that carries one watched aircraft.
AIRCRAFT_TILE = "aircraft"
EVERY_TILE = {
    "filterGroup": [{"filters": [{"fieldName": "tile", "operator": "ne", "value": AIRCRAFT_TILE}]}]
}


def _row(latitude: float) -> int:
    return min(ROWS - 1, max(0, math.floor((latitude + 90) / TILE_DEG)))


def _column(longitude: float) -> int:
    return math.floor((longitude + 180) / TILE_DEG) % COLUMNS


def tile_of(latitude: float, longitude: float) -> str:
    """The tile of a position: ``"<row>.<column>"`` from the south-west corner."""
    return f"{_row(latitude)}.{_column(longitude)}"


def tiles_of(box: BoundingBox) -> list[str]:
    """Every tile ``box`` touches (a box across the antimeridian included)."""

    def edge(longitude: float) -> int:  # 180 ends the last column here
        return min(COLUMNS - 1, math.floor((longitude + 180) / TILE_DEG))

    first, last = edge(box.west), edge(box.east)
    if box.crosses_antimeridian:
        columns = [*range(first, COLUMNS), *range(0, last + 1)]
    else:
        columns = list(range(first, last + 1))
    if box.east == 180 and 0 not in columns:  # tile_of puts 180 with -180
        columns.append(0)
    rows = range(_row(box.south), _row(box.north) + 1)
    return [f"{r}.{c}" for r in rows for c in columns]


def watched_alone(arguments: Mapping[str, Any]) -> list[str]:
    """The aircraft a ``flightUpdates`` subscription with ``arguments`` selects by name,
    when a filter can list them all; else none."""
    given = arguments.get("icao24")
    if given is None:
        return []
    codes = sorted(checked.aircraft(list(given)))
    return codes if len(codes) <= MAX_VALUES else []


def subscription_filter(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The enhanced filter of a ``flightUpdates`` subscription with ``arguments``."""
    codes = watched_alone(arguments)
    bbox = arguments.get("bbox")
    box = BoundingBox(bbox["south"], bbox["west"], bbox["north"], bbox["east"]) if bbox else None
    if codes:
        return _in("aircraft", codes)
    if box is not None and len(tiles := tiles_of(box)) <= MAX_VALUES:
        return _in("tile", tiles)
    return EVERY_TILE


def _in(field: str, values: list[str]) -> dict[str, Any]:
    chunks = [values[i : i + _IN_VALUES] for i in range(0, len(values), _IN_VALUES)]
    return {
        "filterGroup": [
            {"filters": [{"fieldName": field, "operator": "in", "value": chunk}]}
            for chunk in chunks
        ]
    }
