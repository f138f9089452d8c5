"""Tiles: how AppSync's real-time engine selects each subscriber's part of a cycle.

The publisher sends each cycle as one ``publishFlightUpdates`` per tile of
``TILE_DEG`` degrees that has changes; a ``flightUpdates(bbox:)`` subscription gets the
batches of the tiles its box touches, through an enhanced subscription filter on the
payload's ``tile`` (``subscription_filter``). AppSync allows 10 groups of 5 values each
(``in``), so a box that touches more than ``MAX_TILES`` tiles, or no box, gets every tile.

Granularity: a batch holds every changed aircraft of its tile, so a subscriber receives
aircraft of its tiles that lie outside its box (the ASGI server sends the exact box), and
``icao24:`` does not narrow what AppSync delivers: clients keep what they asked for.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from domain import BoundingBox

TILE_DEG = 15
ROWS = 180 // TILE_DEG
COLUMNS = 360 // TILE_DEG
_IN_VALUES = 5  # AppSync: values of one ``in`` filter
_GROUPS = 10  # AppSync: filters of one filterGroup
MAX_TILES = _IN_VALUES * _GROUPS


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


def subscription_filter(arguments: Mapping[str, Any]) -> dict[str, Any] | None:
    """The enhanced filter of a ``flightUpdates`` subscription with ``arguments``, or
    ``None`` for every tile."""
    bbox = arguments.get("bbox")
    if not bbox:
        return None
    tiles = tiles_of(BoundingBox(bbox["south"], bbox["west"], bbox["north"], bbox["east"]))
    if len(tiles) > MAX_TILES:
        return None
    chunks = [tiles[i : i + _IN_VALUES] for i in range(0, len(tiles), _IN_VALUES)]
    return {
        "filterGroup": [
            {"filters": [{"fieldName": "tile", "operator": "in", "value": chunk}]}
            for chunk in chunks
        ]
    }
