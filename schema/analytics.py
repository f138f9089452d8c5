"""The ``Analytics`` namespace: aggregates over live and historical flight data.

Each field checks its arguments (``analytics.params``: a bad one is an ``InvalidArgument``
naming it) and asks the request's ``AnalyticsService`` in a worker thread, since DuckDB
scans and store reads block. Result types are built from ``analytics.results`` models;
their list items are plain attributes, so the executor's fast path serves long lists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from analytics import params
from analytics import results as r
from analytics.service import AnalyticsService
from schema.airport import Airport
from schema.context import Context
from schema.inputs import BoundingBoxInput
from storage.offload import offload

# Registered under its GraphQL name, as schema.scalars registers the domain's enums.
strawberry.enum(
    r.Basis,
    name="AnalyticsBasis",
    description=(
        "Where an answer came from: LIVE (the latest state of each aircraft in the live "
        "window), PARQUET (the processed states of the window), ROUTES (route legs), "
        "CYCLES (ingest cycle reports), DAILY_SUMMARY (the daily processor's documents)."
    ),
)

WINDOW = (
    "ISO 8601: a duration ending now (PT6H, P1D), a UTC day (2026-11-26) or an interval "
    "(2026-11-26T06:00:00Z/2026-11-26T18:00:00Z); at most 7 days."
)
LIVE_OR_WINDOW = f"Null: the live aircraft, as flights counts them. Else a window: {WINDOW}"
WindowArg = Annotated[str, strawberry.argument(description=WINDOW)]
LiveOrWindow = Annotated[str | None, strawberry.argument(description=LIVE_OR_WINDOW)]


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@strawberry.type
class RegionCount:
    region: str
    aircraft: int


@strawberry.type(description="Aircraft per region; live, the regions add up to `aircraft`.")
class RegionCounts:
    start: datetime
    end: datetime
    basis: r.Basis
    aircraft: int = strawberry.field(description="Distinct aircraft with a position")
    regions: list[RegionCount]

    @classmethod
    def from_result(cls, res: r.RegionCounts) -> RegionCounts:
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            aircraft=res.aircraft,
            regions=[RegionCount(region=c.region, aircraft=c.aircraft) for c in res.regions],
        )


@strawberry.type
class CountryCount:
    country: str | None = strawberry.field(description="Country of registration; null: unknown")
    aircraft: int


@strawberry.type(description="Aircraft per country of registration, most first.")
class CountryCounts:
    start: datetime
    end: datetime
    basis: r.Basis
    aircraft: int
    countries: list[CountryCount]

    @classmethod
    def from_result(cls, res: r.CountryCounts) -> CountryCounts:
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            aircraft=res.aircraft,
            countries=[CountryCount(country=c.country, aircraft=c.aircraft) for c in res.countries],
        )


@strawberry.type(description="Airborne aircraft with an altitude in [lowM, highM).")
class AltitudeBucket:
    low_m: float
    high_m: float
    aircraft: int


@strawberry.type(
    description="Aircraft per altitude band (barometric, else geometric); live, the bands, "
    "onGround and withoutAltitude add up to `aircraft`."
)
class AltitudeHistogram:
    start: datetime
    end: datetime
    basis: r.Basis
    bucket_m: float
    aircraft: int
    on_ground: int
    without_altitude: int = strawberry.field(description="Airborne with no altitude reported")
    buckets: list[AltitudeBucket] = strawberry.field(description="Lowest to highest band")

    @classmethod
    def from_result(cls, res: r.AltitudeHistogram) -> AltitudeHistogram:
        size = res.bucket_m
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            bucket_m=size,
            aircraft=res.aircraft,
            on_ground=res.on_ground,
            without_altitude=res.without_altitude,
            buckets=[
                AltitudeBucket(low_m=b.low_m, high_m=b.low_m + size, aircraft=b.aircraft)
                for b in res.buckets
            ],
        )


@strawberry.type(description="The cell [south, north) x [west, east) of the grid.")
class DensityCell:
    row: int = strawberry.field(description="floor(latitude / cellDeg)")
    col: int = strawberry.field(description="floor(longitude / cellDeg)")
    south: float
    west: float
    north: float
    east: float
    aircraft: int


@strawberry.type(description="Aircraft per grid cell; only cells with aircraft are listed.")
class TrafficDensity:
    start: datetime
    end: datetime
    basis: r.Basis
    cell_deg: float
    aircraft: int = strawberry.field(description="Distinct aircraft in the box")
    max_aircraft: int = strawberry.field(description="The most in one cell")
    cells: list[DensityCell] = strawberry.field(description="South-west to north-east")

    @classmethod
    def from_result(cls, res: r.TrafficDensity) -> TrafficDensity:
        size = res.cell_deg

        def edge(n: int) -> float:
            return round(n * size, 9)

        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            cell_deg=size,
            aircraft=res.aircraft,
            max_aircraft=max((c.aircraft for c in res.cells), default=0),
            cells=[
                DensityCell(
                    row=c.row,
                    col=c.col,
                    south=edge(c.row),
                    west=edge(c.col),
                    north=edge(c.row + 1),
                    east=edge(c.col + 1),
                    aircraft=c.aircraft,
                )
                for c in res.cells
            ],
        )


async def _airport(info: Info[Context, None], code: str) -> Airport | None:
    found = await info.context.loaders.airport.load(code)
    return None if found is None else Airport.from_record(found)


@strawberry.type(description="Departures and arrivals of one airport, from route detection.")
class AirportTraffic:
    icao: str
    departures: int
    arrivals: int
    movements: int = strawberry.field(description="Departures plus arrivals")

    @strawberry.field
    async def airport(self, info: Info[Context, None]) -> Airport | None:
        return await _airport(info, self.icao)


@strawberry.type(description="Airports by departures plus arrivals in the window, busiest first.")
class BusiestAirports:
    start: datetime
    end: datetime
    basis: r.Basis
    airports: list[AirportTraffic]

    @classmethod
    def from_result(cls, res: r.BusiestAirports) -> BusiestAirports:
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            airports=[
                AirportTraffic(
                    icao=a.icao, departures=a.departures, arrivals=a.arrivals, movements=a.movements
                )
                for a in res.airports
            ],
        )


@strawberry.type(description="Legs flown from one airport to another that arrived in the window.")
class RouteStat:
    origin: str
    destination: str
    flights: int
    median_duration_s: float = strawberry.field(description="Takeoff to landing")
    distance_km: float | None = strawberry.field(description="Great circle between the airports")
    median_flown_km: float = strawberry.field(description="Along the reported positions")

    @strawberry.field
    async def origin_airport(self, info: Info[Context, None]) -> Airport | None:
        return await _airport(info, self.origin)

    @strawberry.field
    async def destination_airport(self, info: Info[Context, None]) -> Airport | None:
        return await _airport(info, self.destination)


@strawberry.type(description="Origin-destination pairs, most flights first.")
class RouteStatistics:
    start: datetime
    end: datetime
    basis: r.Basis
    routes: list[RouteStat]

    @classmethod
    def from_result(cls, res: r.RouteStatistics) -> RouteStatistics:
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            routes=[
                RouteStat(
                    origin=s.origin,
                    destination=s.destination,
                    flights=s.flights,
                    median_duration_s=round(s.median_duration_s, 1),
                    distance_km=None if s.distance_km is None else round(s.distance_km, 1),
                    median_flown_km=round(s.median_flown_km, 1),
                )
                for s in res.routes
            ],
        )


@strawberry.type(description="Records rejected for one reason; rate is over records received.")
class RejectReason:
    reason: str
    count: int
    rate: float


def _reasons(found: list[r.ReasonCount], received: int) -> list[RejectReason]:
    return [
        RejectReason(reason=c.reason, count=c.count, rate=_rate(c.count, received)) for c in found
    ]


@strawberry.type(description="One source's cycles in the window.")
class SourceQuality:
    source: str
    cycles: int
    failed_cycles: int = strawberry.field(description="Cycles whose fetch failed")
    missed_cycles: int = strawberry.field(
        description="Cycles that never ran: gaps of several expected intervals"
    )
    expected_interval_s: float | None = strawberry.field(
        description="The median spacing of the source's cycles; null under five cycles"
    )
    longest_gap_s: float | None
    received: int
    stored: int
    rejected: int
    duplicates: int
    reject_rate: float
    reasons: list[RejectReason]

    @classmethod
    def from_result(cls, s: r.SourceQuality) -> SourceQuality:
        return cls(
            source=s.source,
            cycles=s.cycles,
            failed_cycles=s.failed_cycles,
            missed_cycles=s.missed_cycles,
            expected_interval_s=s.expected_interval_s,
            longest_gap_s=s.longest_gap_s,
            received=s.received,
            stored=s.stored,
            rejected=s.rejected,
            duplicates=s.duplicates,
            reject_rate=_rate(s.rejected, s.received),
            reasons=_reasons(s.reasons, s.received),
        )


@strawberry.type(description="What ingest rejected and missed in the window, and how fresh.")
class DataQuality:
    start: datetime
    end: datetime
    basis: r.Basis
    received: int
    rejected: int
    reject_rate: float
    reasons: list[RejectReason]
    sources: list[SourceQuality]
    freshness_lag_s: float | None = strawberry.field(
        description="Seconds from the newest position stored to now, for a window ending now"
    )
    partial: bool = strawberry.field(
        description="The kept cycle history (the newest 10,000) starts after the window does"
    )

    @classmethod
    def from_result(cls, res: r.DataQuality) -> DataQuality:
        return cls(
            start=res.start,
            end=res.end,
            basis=res.basis,
            received=res.received,
            rejected=res.rejected,
            reject_rate=_rate(res.rejected, res.received),
            reasons=_reasons(res.reasons, res.received),
            sources=[SourceQuality.from_result(s) for s in res.sources],
            freshness_lag_s=res.freshness_lag_s,
            partial=res.partial,
        )


@strawberry.type(description="Aggregates over live and historical flight data.")
class Analytics:
    service: strawberry.Private[AnalyticsService]

    def _window(self, text: str | None) -> params.Window | None:
        return None if text is None else params.window(text, now=self.service.now)

    @strawberry.field(description="Aircraft per grid cell of cellDeg degrees inside bbox.")
    async def traffic_density(
        self,
        bbox: BoundingBoxInput | None = None,
        cell_deg: float = 1.0,
        window: LiveOrWindow = None,
    ) -> TrafficDensity:
        box = None if bbox is None else bbox.to_domain()
        size, found = params.cell_deg(cell_deg, box), self._window(window)
        result = await offload(self.service.traffic_density, found, size, box)
        return TrafficDensity.from_result(result)

    @strawberry.field(description="Aircraft per region.")
    async def region_counts(self, window: LiveOrWindow = None) -> RegionCounts:
        found = self._window(window)
        return RegionCounts.from_result(await offload(self.service.region_counts, found))

    @strawberry.field(description="Aircraft per country of registration.")
    async def country_counts(self, window: LiveOrWindow = None) -> CountryCounts:
        found = self._window(window)
        result = await offload(self.service.country_counts, found)
        return CountryCounts.from_result(result)

    @strawberry.field(description="Aircraft per altitude band of bucketM metres.")
    async def altitude_histogram(
        self,
        bucket_m: float = params.DEFAULT_BUCKET_M,
        window: LiveOrWindow = None,
    ) -> AltitudeHistogram:
        size, found = params.bucket_m(bucket_m), self._window(window)
        result = await offload(self.service.altitude_histogram, found, size)
        return AltitudeHistogram.from_result(result)

    @strawberry.field(description="Airports by departures and arrivals (route detection).")
    async def busiest_airports(
        self,
        window: WindowArg = "PT24H",
        limit: int = 10,
    ) -> BusiestAirports:
        found, top = params.window(window, now=self.service.now), params.limit(limit)
        result = await offload(self.service.busiest_airports, found, top)
        return BusiestAirports.from_result(result)

    @strawberry.field(description="Origin-destination pairs: flights, median duration, distance.")
    async def route_statistics(
        self,
        window: WindowArg = "PT24H",
        limit: int = 10,
    ) -> RouteStatistics:
        found, top = params.window(window, now=self.service.now), params.limit(limit)
        result = await offload(self.service.route_statistics, found, top)
        return RouteStatistics.from_result(result)

    @strawberry.field(description="Reject rates by reason and source, cycles missed, freshness.")
    async def data_quality(self, window: WindowArg = "PT24H") -> DataQuality:
        found = params.window(window, now=self.service.now)
        return DataQuality.from_result(await offload(self.service.data_quality, found))
