"""What the analytics queries return, as pydantic models.

Models because a result makes round trips as JSON: through the Redis response cache and
through the daily summary files, which are validated when read back. Counts of aircraft
are distinct ``icao24``; over a window, an aircraft seen in two regions (cells, altitude
bands) is counted in each, so only the live figures add up to the total.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Basis(StrEnum):
    """Where an answer was computed from."""

    LIVE = "LIVE"  # the latest state of each aircraft in the live window
    PARQUET = "PARQUET"  # the processed Parquet of the window
    ROUTES = "ROUTES"  # the route legs of the route detection
    CYCLES = "CYCLES"  # the ingest cycle reports
    DAILY_SUMMARY = "DAILY_SUMMARY"  # the daily summaries of whole past days


class Result(BaseModel):
    """An answer over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    basis: Basis


class RegionCount(BaseModel):
    region: str
    aircraft: int


class RegionCounts(Result):
    aircraft: int
    regions: list[RegionCount]


class CountryCount(BaseModel):
    country: str | None
    aircraft: int


class CountryCounts(Result):
    aircraft: int
    countries: list[CountryCount]


class AltitudeBucket(BaseModel):
    low_m: float
    aircraft: int


class AltitudeHistogram(Result):
    bucket_m: float
    aircraft: int
    on_ground: int
    without_altitude: int
    buckets: list[AltitudeBucket]


class DensityCell(BaseModel):
    """The cell ``[row, row + 1) x [col, col + 1)`` in units of the grid's cell size, as
    ``ingestion.enricher.grid_cell`` numbers them."""

    row: int
    col: int
    aircraft: int


class TrafficDensity(Result):
    cell_deg: float
    aircraft: int
    cells: list[DensityCell]


class AirportTraffic(BaseModel):
    icao: str
    departures: int
    arrivals: int

    @property
    def movements(self) -> int:
        return self.departures + self.arrivals


class BusiestAirports(Result):
    airports: list[AirportTraffic]


class RouteStat(BaseModel):
    origin: str
    destination: str
    flights: int
    median_duration_s: float
    distance_km: float | None
    median_flown_km: float


class RouteStatistics(Result):
    routes: list[RouteStat]


class ReasonCount(BaseModel):
    reason: str
    count: int


class SourceQuality(BaseModel):
    source: str
    cycles: int
    failed_cycles: int
    missed_cycles: int
    expected_interval_s: float | None
    longest_gap_s: float | None
    received: int
    stored: int
    rejected: int
    duplicates: int
    reasons: list[ReasonCount]


class DataQuality(Result):
    received: int
    rejected: int
    reasons: list[ReasonCount]
    sources: list[SourceQuality]
    freshness_lag_s: float | None
    partial: bool


class DailySummary(BaseModel):
    """One UTC day's figures, written once the day is over by the analytics processor.
    Histograms use ``SUMMARY_BUCKET_M`` bands; airports are all of them, not a top few.
    The day's density grid and route statistics, larger, are documents of their own."""

    model_config = ConfigDict(frozen=True)

    version: Literal[1] = 1
    day: date
    generated_at: datetime
    states: int
    aircraft: int
    regions: RegionCounts
    countries: CountryCounts
    altitudes: AltitudeHistogram
    airports: BusiestAirports
    quality: DataQuality


SUMMARY_BUCKET_M = 1000.0
SUMMARY_CELL_DEG = 1.0
