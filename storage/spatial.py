"""An in-memory grid of airports for nearest and within-radius look-ups.

Cells are one degree square; a query scans only the cells its radius can reach, so a
nearest look-up costs a few dozen distance computations. Immutable once built, so one
grid can be read from many threads.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

from domain import Airport
from domain.geo import haversine_km
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
