"""Which states of a cycle one subscriber gets, and which aircraft left its view.

A ``CellIndex`` buckets a cycle's states by whole-degree cell once; each subscriber's
``View`` then looks only at the cells its box overlaps, so a thousand subscribers with
regional boxes cost a few milliseconds per cycle, not a thousand passes over every state.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from domain import BoundingBox, FlightState

Cell = tuple[int, int]
_icao24_of = attrgetter("icao24")


def _cell(latitude: float, longitude: float) -> Cell:
    return math.floor(latitude), math.floor(longitude)


def _lon_spans(box: BoundingBox) -> list[tuple[int, int, float, float]]:
    """The box's longitudes as spans: the whole-degree cells each covers (inclusive
    first and last) and its edges in degrees. Two spans across the antimeridian."""
    west, east = math.floor(box.west), min(math.floor(box.east), 179)
    if box.crosses_antimeridian:
        return [(west, 179, box.west, 180.0), (-180, east, -180.0, box.east)]
    return [(west, east, box.west, box.east)]


class CellIndex:
    """One cycle's states: by aircraft, and positioned ones by whole-degree cell."""

    def __init__(self, states: Sequence[FlightState]) -> None:
        self.states = states
        # What renderers built from these states, by ``id(state)``: one ``Flight`` per
        # state however many subscribers get it (the states live as long as the index).
        self.memo: dict[int, Any] = {}
        self.by_icao24 = {s.icao24: s for s in states}
        self.contact = {s.icao24: s.last_contact.timestamp() for s in states}
        self._cells: defaultdict[Cell, list[FlightState]] = defaultdict(list)
        for s in states:
            if s.latitude is not None and s.longitude is not None:
                self._cells[_cell(s.latitude, s.longitude)].append(s)
        # The same cells by latitude row, then longitude: a box's scan looks up ints.
        self._rows: defaultdict[int, dict[int, list[FlightState]]] = defaultdict(dict)
        for (lat, lon), bucket in self._cells.items():
            self._rows[lat][lon] = bucket

    def in_box(self, box: BoundingBox) -> list[FlightState]:
        south, north = math.floor(box.south), min(math.floor(box.north), 89)
        spans = _lon_spans(box)
        n_cells = (north - south + 1) * sum(last - first + 1 for first, last, _, _ in spans)
        contains = box.contains
        if n_cells >= len(self.states):  # a box this large: every state is cheaper
            return [
                s
                for bucket in self._cells.values()
                for s in bucket
                if contains(s.latitude, s.longitude)  # type: ignore[arg-type]
            ]
        found: list[FlightState] = []
        rows = self._rows
        low, high = box.south, box.north
        for lat in range(south, north + 1):
            row = rows.get(lat)
            if not row:
                continue
            rows_inside = low <= lat and lat + 1 <= high
            for first, last, west, east in spans:
                for lon in range(first, last + 1):
                    bucket = row.get(lon)
                    if not bucket:
                        continue
                    if rows_inside and west <= lon and lon + 1 <= east:
                        found.extend(bucket)  # the whole cell is inside: no checks
                    else:
                        # Within the span's own edges: a state in a cell that both spans
                        # of an antimeridian box share is found once, by the span it is in.
                        found.extend(
                            [
                                s
                                for s in bucket
                                if low <= s.latitude <= high  # type: ignore[operator]
                                and west <= s.longitude <= east  # type: ignore[operator]
                            ]
                        )
        return found


@dataclass(frozen=True, slots=True)
class UpdateFilter:
    """A subscription's filter: a box, a set of aircraft, both (and) or neither (all)."""

    bbox: BoundingBox | None = None
    icao24: frozenset[str] | None = None

    def matches(self, state: FlightState) -> bool:
        if self.icao24 is not None and state.icao24 not in self.icao24:
            return False
        if self.bbox is None:
            return True
        if state.latitude is None or state.longitude is None:
            return False
        return self.bbox.contains(state.latitude, state.longitude)

    def select(self, index: CellIndex) -> list[FlightState]:
        if self.icao24 is not None:
            found = (index.by_icao24.get(code) for code in self.icao24)
            return [s for s in found if s is not None and self.matches(s)]
        if self.bbox is not None:
            return index.in_box(self.bbox)
        return list(index.states)


@dataclass(slots=True)
class View:
    """What one subscriber currently sees: the aircraft inside its filter, with the last
    contact of each, so that it can be told which ones left or went stale."""

    filter: UpdateFilter
    inside: dict[str, float] = field(default_factory=dict)

    def reset(self, current: CellIndex) -> list[FlightState]:
        """The subscriber's first batch: the ``current`` states that match."""
        matched = self.filter.select(current)
        self.inside = {s.icao24: s.last_contact.timestamp() for s in matched}
        return matched

    def apply(
        self, index: CellIndex, stale_before: datetime | None
    ) -> tuple[list[FlightState], list[str]]:
        """The states of a cycle this subscriber gets, and the aircraft that left its
        filter (moved out, or last heard before ``stale_before``)."""
        matched = self.filter.select(index)
        codes = list(map(_icao24_of, matched))
        inside = self.inside
        removed: list[str] = []
        if inside:
            # Set operations in C; sorted, so that the order does not depend on hashing.
            moved = sorted((inside.keys() - codes) & index.by_icao24.keys())
            for code in moved:
                del inside[code]
            removed.extend(moved)
        inside.update(zip(codes, map(index.contact.__getitem__, codes), strict=True))
        if stale_before is not None and inside:
            cutoff = stale_before.timestamp()
            stale = [code for code, seen in inside.items() if seen < cutoff]
            for code in stale:
                del inside[code]
            removed.extend(stale)
        return matched, removed
