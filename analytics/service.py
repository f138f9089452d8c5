"""The analytics the API serves, each from the cheapest source that answers it exactly.

- Regions, countries, altitudes and density: without a window, the latest states (LIVE,
  counted in plain Python by ``analytics.live_figures``: no DuckDB);
  over a window, the daily documents of one whole past day (DAILY_SUMMARY), else the
  Parquet of the window (PARQUET: read by DuckDB, or queried on Athena when
  ``ATHENA_WORKGROUP`` is set).
- Busiest airports and data quality: the daily summaries when the window is whole past
  days that all have one (added up), else the route legs (ROUTES) or the cycle reports
  (CYCLES).
- Route statistics: the day's document for one whole past day, else the route legs.

Distinct counts and medians do not add up across days, so only one day's document answers
them; departures, arrivals and cycle counts do. The day's altitude bands must be the
summary's (1,000 m) and its grid the global 1-degree one, else the Parquet answers.

Answers are cached (``ResponseCache``, Redis) under ``analytics:{field}:{timerange}:{hash}``
for its TTL: ``timerange`` is ``live``, the window's ISO 8601 duration, day or interval;
``hash`` covers the arguments and, for answers about now (live, or a window ending now),
the newest contact in the store, so a cycle that stores newer states retires them as it
retires the cached flights pages. Without Redis nothing is cached.

One service serves one request: it reads the store's newest contact and the live states
at most once, whichever fields ask. Thread-safe: the fields run in worker threads.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Hashable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from analytics import flights, quality, traffic
from analytics.athena import past_days
from analytics.daily import DailyDocuments
from analytics.engine import Engine, FlightsEngine, Processed
from analytics.files import object_store
from analytics.live import LiveSnapshot, LiveSnapshots
from analytics.live_figures import StatesEngine
from analytics.params import DEFAULT_BUCKET_M, Window
from analytics.results import (
    SUMMARY_BUCKET_M,
    SUMMARY_CELL_DEG,
    AltitudeHistogram,
    Basis,
    BusiestAirports,
    CountryCounts,
    DailySummary,
    DataQuality,
    RegionCounts,
    Result,
    RouteStatistics,
    TrafficDensity,
)
from config import Settings
from domain import BoundingBox
from storage.base import CycleRepository, FlightRepository, LegRepository
from storage.redis.cache import analytics_key
from storage.stores import Stores

R = TypeVar("R", bound=Result)
T = TypeVar("T")


class Cache(Protocol):
    """What of ``storage.redis.cache.ResponseCache`` the service uses."""

    def get_or_set(self, key: str, compute: Callable[[], T]) -> T: ...


def _now() -> datetime:
    return datetime.now(UTC)


def _days(window: Window) -> list[date]:
    """The UTC days ``[start, end)`` touches."""
    first, last = window.start.date(), (window.end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class AnalyticsService:
    def __init__(
        self,
        *,
        flights: FlightRepository,
        legs: LegRepository,
        cycles: CycleRepository,
        processed: Processed,
        documents: DailyDocuments,
        live_window_s: float,
        engine: Engine | None = None,
        live_engine: Engine | None = None,
        cache: Cache | None = None,
        now: datetime | None = None,
        snapshots: LiveSnapshots | None = None,
    ) -> None:
        self.flights = flights
        self.legs = legs
        self.cycles = cycles
        self.processed = processed
        self.documents = documents
        self.live_window_s = live_window_s
        self.engine = engine or FlightsEngine()
        self.live_engine = live_engine or StatesEngine()
        self.cache = cache
        self.now = now or _now()
        self.snapshots = snapshots or LiveSnapshots(flights, live_window_s)
        self._lock = threading.Lock()
        self._as_of: tuple[datetime | None] | None = None
        self._live: LiveSnapshot | None = None

    # --- figures over flight states ---

    def region_counts(self, window: Window | None) -> RegionCounts:
        return self._figure(
            "regionCounts",
            window,
            {},
            RegionCounts,
            flights.region_counts,
            self._from_summary(lambda summary: summary.regions),
        )

    def country_counts(self, window: Window | None) -> CountryCounts:
        return self._figure(
            "countryCounts",
            window,
            {},
            CountryCounts,
            flights.country_counts,
            self._from_summary(lambda summary: summary.countries),
        )

    def altitude_histogram(self, window: Window | None, bucket_m: float) -> AltitudeHistogram:
        same_bands = bucket_m == SUMMARY_BUCKET_M
        return self._figure(
            "altitudeHistogram",
            window,
            {"bucketM": bucket_m},
            AltitudeHistogram,
            lambda engine, scope: flights.altitude_histogram(engine, scope, bucket_m),
            self._from_summary(lambda summary: summary.altitudes) if same_bands else None,
        )

    def traffic_density(
        self, window: Window | None, cell_deg: float, bbox: BoundingBox | None
    ) -> TrafficDensity:
        box = None if bbox is None else [bbox.south, bbox.west, bbox.north, bbox.east]
        whole_grid = bbox is None and cell_deg == SUMMARY_CELL_DEG
        return self._figure(
            "trafficDensity",
            window,
            {"cellDeg": cell_deg, "bbox": box},
            TrafficDensity,
            lambda engine, scope: flights.traffic_density(engine, scope, cell_deg, bbox),
            self.documents.density if whole_grid else None,
        )

    def _from_summary(self, part: Callable[[DailySummary], R]) -> Callable[[date], R | None]:
        def read(day: date) -> R | None:
            summary = self.documents.summary(day)
            return None if summary is None else part(summary)

        return read

    def _figure(
        self,
        kind: str,
        window: Window | None,
        params: dict[str, Any],
        model: type[R],
        run: Callable[[Engine, flights.Scope], R],
        from_day: Callable[[date], R | None] | None,
    ) -> R:
        """``run`` over the live states (in plain Python) or the window's Parquet (on
        ``engine``); ``from_day`` (a daily document) instead when it answers a window of one
        whole past day."""
        if window is None:

            def live() -> R:
                snapshot = self.live()
                if snapshot.as_of is None:  # nothing live: the answer is about now
                    return run(self.live_engine, self._live_scope())
                key = analytics_key(kind, "live", params)
                found = snapshot.answers.get(key)
                if found is None:
                    found = snapshot.answers[key] = run(self.live_engine, self._live_scope())
                return cast("R", found)

            return self._cached(kind, "live", params, model, live, relative=True)

        def compute() -> R:
            day = self._one_past_day(window)
            found = None if day is None or from_day is None else from_day(day)
            if found is not None:
                return found.model_copy(update={"basis": Basis.DAILY_SUMMARY})
            dataset = self.processed.dataset(_days(window))
            return run(self.engine, flights.Scope(dataset, window.start, window.end, Basis.PARQUET))

        return self._cached(kind, window.label, params, model, compute, relative=window.relative)

    def _live_scope(self) -> flights.Scope:
        live = self.live()
        end = live.as_of or self.now
        return flights.Scope(live.states, live.since or end, end, Basis.LIVE)

    # --- figures over route legs and cycles ---

    def busiest_airports(self, window: Window, limit: int) -> BusiestAirports:
        def compute() -> BusiestAirports:
            summaries = self._past_summaries(window)
            if summaries is not None:
                days = [s.airports.airports for s in summaries]
                found, basis = traffic.merge_airports(days), Basis.DAILY_SUMMARY
            else:
                legs = traffic.legs(self.legs, window.start, window.end, self.now)
                found = traffic.busiest_airports(legs, window.start, window.end)
                basis = Basis.ROUTES
            return BusiestAirports(
                start=window.start, end=window.end, basis=basis, airports=found[:limit]
            )

        params = {"limit": limit}
        return self._cached(
            "busiestAirports",
            window.label,
            params,
            BusiestAirports,
            compute,
            relative=window.relative,
        )

    def route_statistics(self, window: Window, limit: int) -> RouteStatistics:
        def compute() -> RouteStatistics:
            day = self._one_past_day(window)
            found = None if day is None else self.documents.routes(day)
            if found is not None:
                basis = Basis.DAILY_SUMMARY
                stats = found.routes
            else:
                legs = traffic.legs(self.legs, window.start, window.end, self.now)
                stats = traffic.route_statistics(legs, window.start, window.end)
                basis = Basis.ROUTES
            return RouteStatistics(
                start=window.start, end=window.end, basis=basis, routes=stats[:limit]
            )

        return self._cached(
            "routeStatistics",
            window.label,
            {"limit": limit},
            RouteStatistics,
            compute,
            relative=window.relative,
        )

    def data_quality(self, window: Window) -> DataQuality:
        def compute() -> DataQuality:
            summaries = self._past_summaries(window)
            if summaries is None:
                return quality.report(
                    self.cycles.recent_cycles(quality.CYCLE_HISTORY),
                    window.start,
                    window.end,
                    now=self.now,
                    retained=quality.CYCLE_HISTORY,
                )
            found = quality.merge_sources(s.quality.sources for s in summaries)
            return DataQuality(
                start=window.start,
                end=window.end,
                basis=Basis.DAILY_SUMMARY,
                received=sum(s.received for s in found),
                rejected=sum(s.rejected for s in found),
                reasons=quality.overall_reasons(found),
                sources=found,
                freshness_lag_s=None,
                partial=any(s.quality.partial for s in summaries),
            )

        result = self._cached(
            "dataQuality", window.label, {}, DataQuality, compute, relative=window.relative
        )
        as_of = self.as_of() if window.relative else None
        if as_of is None:
            return result
        # Outside the cache: the lag grows by the second.
        lag = round((self.now - as_of).total_seconds(), 3)
        return result.model_copy(update={"freshness_lag_s": lag})

    # --- sources ---

    def as_of(self) -> datetime | None:
        """The store's newest contact, read once per service."""
        with self._lock:
            if self._as_of is None:
                self._as_of = (self.flights.newest_contact(),)
            return self._as_of[0]

    def live(self) -> LiveSnapshot:
        """The live states, read once per service."""
        with self._lock:
            if self._live is None:
                self._live = self.snapshots.get()
            return self._live

    def _one_past_day(self, window: Window) -> date | None:
        days = window.whole_days(self.now.date())
        return days[0] if days is not None and len(days) == 1 else None

    def _past_summaries(self, window: Window) -> list[DailySummary] | None:
        """The summaries of the window's days, when it is whole past days that all have one."""
        days = window.whole_days(self.now.date())
        if not days:
            return None
        found = []
        for day in days:
            summary = self.documents.summary(day)
            if summary is None:
                return None
            found.append(summary)
        return found

    def _cached(
        self,
        kind: str,
        timerange: str,
        params: Mapping[str, Any],
        model: type[R],
        compute: Callable[[], R],
        *,
        relative: bool,
    ) -> R:
        if self.cache is None:
            return compute()
        keyed = dict(params)
        if relative:
            as_of = self.as_of()
            keyed["asOf"] = None if as_of is None else as_of.timestamp()
        key = analytics_key(kind, timerange, keyed)
        found = self.cache.get_or_set(key, lambda: compute().model_dump(mode="json"))
        return model.model_validate(found)


@functools.lru_cache(maxsize=8)
def _files(settings: Settings) -> tuple[Processed, DailyDocuments]:
    """One pair per process and settings, so that the boto3 session and client they make on
    first use are made once (as a warm Lambda container keeps them). Windows run on Athena
    when the settings name a workgroup, else DuckDB reads the Parquet."""
    return past_days(settings), DailyDocuments(object_store(settings))


@functools.lru_cache(maxsize=8)
def _snapshots(flights: Hashable, live_window_s: float) -> LiveSnapshots:
    """One per process and repository (each is hashed by identity): the live states are
    read once per cycle, not once per request."""
    return LiveSnapshots(cast(FlightRepository, flights), live_window_s)


def live_snapshots(stores: Stores, settings: Settings) -> LiveSnapshots:
    """This process's live snapshots of ``stores``: the API makes them follow its
    live-update hub (``LiveSnapshots.follow``)."""
    return _snapshots(cast(Hashable, stores.flights), settings.live_window_s)


def live_figures(stores: Stores, settings: Settings) -> list[Callable[[], object]]:
    """What answers each live figure the dashboard shows for the newest live snapshot:
    the API runs them after each cycle, one at a time, so that the first request for each
    figure does not wait while it is computed (``python -m bench.soak``)."""
    service = build_service(stores, settings)
    return [
        lambda: service.region_counts(None),
        lambda: service.country_counts(None),
        lambda: service.altitude_histogram(None, DEFAULT_BUCKET_M),
    ]


def build_service(stores: Stores, settings: Settings) -> AnalyticsService:
    """The service for one request over ``stores``."""
    processed, documents = _files(settings)
    return AnalyticsService(
        flights=stores.flights,
        legs=stores.legs,
        cycles=stores.cycles,
        processed=processed,
        documents=documents,
        live_window_s=settings.live_window_s,
        cache=stores.cache,
        snapshots=live_snapshots(stores, settings),
    )
