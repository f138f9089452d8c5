"""An in-memory grid of airports for nearest and within-radius look-ups.

Cells are one degree square; a query scans only the cells its radius can reach, so a
nearest look-up costs a few dozen distance computations. Immutable once built, so one
grid can be read from many threads.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from domain import Airport
from domain.geo import EARTH_RADIUS_KM, haversine_km
from storage.base import NearestAirport

_KM_PER_DEG_LAT = 111.32


def _cell(latitude: float, longitude: float) -> tuple[int, int]:
    # Latitude 90 joins the row below it and longitude 180 the column of -180, so that
    # every cell a query can visit is a row in [-90, 89] and a column in [-180, 179].
    return min(89, math.floor(latitude)), (math.floor(longitude) + 180) % 360 - 180


class AirportGrid:
    def __init__(self, airports: Iterable[Airport]) -> None:
        self._cells: dict[tuple[int, int], list[Airport]] = defaultdict(list)
        for airport in airports:
            self._cells[_cell(airport.latitude, airport.longitude)].append(airport)

    def _candidates(self, latitude: float, longitude: float, radius_km: float) -> Iterator[Airport]:
        dlat = math.ceil(radius_km / _KM_PER_DEG_LAT)
        far_lat = abs(latitude) + dlat
        if far_lat >= 90.0:
            dlon = 180  # the circle may reach over the pole: every longitude is near
        else:
            cos_lat = max(math.cos(math.radians(far_lat)), 1e-9)
            dlon = min(180, math.ceil(radius_km / (_KM_PER_DEG_LAT * cos_lat)))
        row, col = _cell(latitude, longitude)
        cols = range(col - dlon, col + dlon + 1) if dlon < 180 else range(-180, 180)
        # Fewer than 360 columns, so wrapping at the antimeridian never visits a cell twice.
        for r in range(max(-90, row - dlat), min(89, row + dlat) + 1):
            for c in cols:
                yield from self._cells.get((r, (c + 180) % 360 - 180), ())

    def within(self, latitude: float, longitude: float, radius_km: float) -> list[NearestAirport]:
        """Airports within the radius, nearest first."""
        found = []
        for airport in self._candidates(latitude, longitude, radius_km):
            distance = haversine_km(latitude, longitude, airport.latitude, airport.longitude)
            if distance <= radius_km:
                found.append(NearestAirport(airport, distance))
        found.sort(key=lambda n: (n.distance_km, n.airport.icao))
        return found

    def nearest(self, latitude: float, longitude: float, radius_km: float) -> NearestAirport | None:
        best: NearestAirport | None = None
        for airport in self._candidates(latitude, longitude, radius_km):
            distance = haversine_km(latitude, longitude, airport.latitude, airport.longitude)
            if distance <= radius_km and (best is None or distance < best.distance_km):
                best = NearestAirport(airport, distance)
        return best


class NearestAirports:
    """A batch nearest-airport lookup over an in-memory index: an ``Enricher``'s ``nearest``.

    Finds the same airports at the same distances as ``storage.spatial.AirportGrid``, about
    ten times faster: cells of ``cell_deg`` (a quarter degree); the 3 x 3 cells around the
    point first, and the whole box the radius reaches only when the best found is farther
    than a lower bound on the distance to anything outside those cells (precomputed per
    row). Candidates are compared on the haversine term with half-angles precomputed: it
    orders them as the distance does, without a square root or an arcsine each.

    Immutable once built; one index can be read from many threads.
    """

    def __init__(
        self, airports: Iterable[Airport], radius_km: float = 50.0, *, cell_deg: float = 0.25
    ) -> None:
        self.radius_km = radius_km
        self._size = cell_deg
        self._columns = round(360.0 / cell_deg)
        self._half = self._columns // 2  # columns run from -_half to _half - 1
        self._rows = math.ceil(90.0 / cell_deg)  # rows run from -_rows to _rows - 1
        self._reach_deg = math.degrees(radius_km / EARTH_RADIUS_KM)
        cells: dict[tuple[int, int], list[_Entry]] = defaultdict(list)
        for airport in airports:
            phi = math.radians(airport.latitude)
            entry = (phi / 2.0, math.cos(phi), math.radians(airport.longitude) / 2.0, airport)
            cells[self._cell(airport.latitude, airport.longitude)].append(entry)
        self._cells = {key: tuple(entries) for key, entries in cells.items()}
        self._outside_terms = [
            self._outside_block_term(row) for row in range(-self._rows, self._rows)
        ]

    def __call__(self, points: Sequence[tuple[float, float]]) -> list[NearestAirport | None]:
        nearest = self.nearest
        return [nearest(latitude, longitude) for latitude, longitude in points]

    def nearest(self, latitude: float, longitude: float) -> NearestAirport | None:
        """The airport nearest ``(latitude, longitude)`` within ``radius_km``, else ``None``."""
        row, column = self._cell(latitude, longitude)
        half_phi, half_lam = math.radians(latitude) / 2.0, math.radians(longitude) / 2.0
        best_term, best = self._scan(self._block(row, column), half_phi, half_lam, 2.0, None)
        if best_term > self._outside_terms[row + self._rows]:
            box = self._span(row, column, *self._reach(latitude))
            best_term, best = self._scan(box, half_phi, half_lam, best_term, best)
        if best is None:
            return None
        distance = 2.0 * EARTH_RADIUS_KM * math.asin(math.sqrt(best_term))
        return NearestAirport(best, distance) if distance <= self.radius_km else None

    def _block(self, row: int, column: int) -> tuple[range, Sequence[int]]:
        """The 3 x 3 cells around a cell; ``_span(row, column, 1, 1)``, faster."""
        rows = self._rows
        if -rows < row < rows - 1 and -self._half < column < self._half - 1:
            return range(row - 1, row + 2), (column - 1, column, column + 1)
        return self._span(row, column, 1, 1)

    def _cell(self, latitude: float, longitude: float) -> tuple[int, int]:
        row = max(-self._rows, min(math.floor(latitude / self._size), self._rows - 1))
        column = math.floor(longitude / self._size)
        return row, column if -self._half <= column < self._half else self._wrap(column)

    def _wrap(self, column: int) -> int:
        return (column + self._half) % self._columns - self._half

    def _span(self, row: int, column: int, rows: int, columns: int) -> tuple[range, Sequence[int]]:
        """The rows and the (wrapped) columns within ``rows`` / ``columns`` of a cell."""
        row_range = range(max(row - rows, -self._rows), min(row + rows, self._rows - 1) + 1)
        half = self._half
        if 2 * columns + 1 >= self._columns:
            return row_range, range(-half, half)
        if -half <= column - columns and column + columns < half:  # no wrap: most points
            return row_range, range(column - columns, column + columns + 1)
        wrap = self._wrap
        return row_range, [wrap(c) for c in range(column - columns, column + columns + 1)]

    def _scan(
        self,
        span: tuple[range, Sequence[int]],
        half_phi: float,
        half_lam: float,
        best_term: float,
        best: Airport | None,
    ) -> tuple[float, Airport | None]:
        sin, cos_phi, get = math.sin, math.cos(2.0 * half_phi), self._cells.get
        rows, columns = span
        for r in rows:
            for c in columns:
                for a_half_phi, a_cos, a_half_lam, airport in get((r, c), ()):
                    north = sin(a_half_phi - half_phi)
                    term = north * north
                    if term >= best_term:  # too far north or south alone
                        continue
                    east = sin(a_half_lam - half_lam)
                    term += cos_phi * a_cos * east * east
                    if term < best_term:
                        best_term, best = term, airport
        return best_term, best

    def _outside_block_term(self, row: int) -> float:
        """The haversine term of a lower bound on the distance from a point in ``row`` to
        an airport within the radius outside the 3 x 3 block around the point's cell.

        Such an airport is at least a cell away in latitude or in longitude; a longitude
        gap shrinks towards the poles, so take it at the highest latitude within reach.
        """
        gap = math.radians(self._size)
        row_lat = max(abs(row), abs(row + 1)) * self._size
        highest = math.radians(min(90.0, row_lat + self._reach_deg))
        along_parallel = 2.0 * math.asin(min(1.0, math.cos(highest) * math.sin(gap / 2.0)))
        return math.sin(min(gap, along_parallel) / 2.0) ** 2

    def _reach(self, latitude: float) -> tuple[int, int]:
        """How many rows and columns of cells the radius reaches from a point."""
        cos_lat = math.cos(math.radians(min(90.0, abs(latitude) + self._reach_deg)))
        rows = math.ceil(self._reach_deg / self._size)
        return rows, math.ceil(self._reach_deg / max(cos_lat, 1e-9) / self._size)


_Entry = tuple[float, float, float, Airport]


# --- Enrichment ---------------------------------------------------------------------------
