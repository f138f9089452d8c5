"""Airport reference data: the offline ``airportsdata`` package (about 28k airports) and
OurAirports CSV files from a path or a URL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import airportsdata
import httpx
from pydantic import ValidationError

from domain import Airport
from domain.units import FT_TO_M
from ingestion.ourairports import RowReject, airport_codes_by_ident, parse_airports, parse_runways
from storage.base import AirportRepository
from storage.stores import Stores

log = logging.getLogger(__name__)


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
                    elevation_m=round(row["elevation"] * FT_TO_M, 1) if row["elevation"] else None,
                    time_zone=row["tz"] or None,
                )
            )
        except ValidationError:
            continue
    return airports


@dataclass(frozen=True)
class LoadReport:
    airports_loaded: int
    airports_rejected: list[RowReject]
    runways_loaded: int = 0
    runways_rejected: list[RowReject] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"airports: {self.airports_loaded} loaded, {len(self.airports_rejected)} rejected"]
        if self.runways_loaded or self.runways_rejected:
            lines.append(
                f"runways: {self.runways_loaded} loaded, {len(self.runways_rejected)} rejected"
            )
        for kind, rejects in (
            ("airports", self.airports_rejected),
            ("runways", self.runways_rejected),
        ):
            for reject in rejects:
                lines.append(f"  {kind} line {reject.line}: {reject.reason}: {reject.detail}")
        return "\n".join(lines)


def _lines(location: str) -> Iterator[str]:
    """Lines of a local CSV file, or of one at an http(s) URL."""
    if location.startswith(("http://", "https://")):
        with httpx.stream("GET", location, follow_redirects=True, timeout=60) as response:
            response.raise_for_status()
            yield from response.iter_lines()
        return
    with open(location, encoding="utf-8", newline="") as handle:
        yield from handle


def load_ourairports(
    airports: AirportRepository, airports_csv: str, runways_csv: str | None = None
) -> LoadReport:
    """Import OurAirports ``airports.csv`` (and ``runways.csv``) into the airport store."""
    parsed = parse_airports(_lines(airports_csv))
    loaded = airports.put_airports(parsed.items)
    if runways_csv is None:
        return LoadReport(loaded, parsed.rejects)
    codes = airport_codes_by_ident(_lines(airports_csv))
    runways = parse_runways(_lines(runways_csv), airport_codes=codes)
    return LoadReport(loaded, parsed.rejects, airports.put_runways(runways.items), runways.rejects)


def seed_airports(stores: Stores) -> int:
    """Load the offline airport list into an empty airport store; returns rows loaded."""
    if stores.airports.count():
        return 0
    loaded = stores.airports.put_airports(airportsdata_airports())
    log.info("loaded %d airports from airportsdata", loaded)
    return loaded
