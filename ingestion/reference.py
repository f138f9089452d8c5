"""Airport reference data from the ``airportsdata`` package: offline, about 28k airports."""

from __future__ import annotations

import airportsdata
from pydantic import ValidationError

from domain import Airport

_FT = 0.3048


def airportsdata_airports() -> list[Airport]:
    """Every airport ``airportsdata`` ships, as domain models (bad rows are skipped)."""
    airports = []
    for row in airportsdata.load("ICAO").values():
        try:
            airports.append(
                Airport(
                    icao=row["icao"],
                    iata=row["iata"] or None,
                    name=row["name"],
                    city=row["city"] or None,
                    country=row["country"] or None,
                    region=row["subd"] or None,
                    latitude=row["lat"],
                    longitude=row["lon"],
                    elevation_m=round(row["elevation"] * _FT, 1) if row["elevation"] else None,
                    time_zone=row["tz"] or None,
                )
            )
        except ValidationError:
            continue
    return airports
