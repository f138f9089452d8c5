"""The daily analytics processor: one UTC day's figures into documents beside the Parquet.

Run once the day is over (the Lambda ``analytics`` at 00:30 UTC, or ``flightdata analytics
daily``): the day's Parquet through DuckDB (on Athena when deployed), its route legs and
its ingest cycles become

- ``processed/flights/aggregates/daily/YYYY-MM-DD-summary.json``: totals, regions,
  countries, altitudes (``SUMMARY_BUCKET_M`` bands), every airport's departures and
  arrivals, data quality;
- ``processed/analytics/traffic-density/YYYY-MM-DD.json``: the ``SUMMARY_CELL_DEG`` grid;
- ``processed/analytics/route-statistics/YYYY-MM-DD.json``: every origin-destination pair.

The two lists have documents of their own because they are large (tens of thousands of
cells) and only their own query needs them. Running the processor again replaces the
documents, so a day reprocessed later is summed again. It reads only what the analytics
role may: ``processed/`` in the bucket and the ops table (route legs and cycles).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel, ValidationError

from analytics import flights, quality, traffic
from analytics.athena import past_days
from analytics.engine import FlightsEngine, Processed
from analytics.files import ObjectStore, object_store
from analytics.params import day_window
from analytics.results import (
    SUMMARY_BUCKET_M,
    SUMMARY_CELL_DEG,
    Basis,
    BusiestAirports,
    DailySummary,
    RouteStatistics,
    TrafficDensity,
)
from storage.base import CycleRepository, LegRepository

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


def summary_key(day: date) -> str:
    return f"processed/flights/aggregates/daily/{day:%Y-%m-%d}-summary.json"


def density_key(day: date) -> str:
    return f"processed/analytics/traffic-density/{day:%Y-%m-%d}.json"


def routes_key(day: date) -> str:
    return f"processed/analytics/route-statistics/{day:%Y-%m-%d}.json"


class DailyDocuments:
    """The processor's documents of each day, read back validated. One that does not
    validate (a newer layout, a hand-made copy) counts as missing and is logged: answers
    then come from the data it summed."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def summary(self, day: date) -> DailySummary | None:
        return self._read(summary_key(day), DailySummary)

    def density(self, day: date) -> TrafficDensity | None:
        return self._read(density_key(day), TrafficDensity)

    def routes(self, day: date) -> RouteStatistics | None:
        return self._read(routes_key(day), RouteStatistics)

    def write(
        self, summary: DailySummary, density: TrafficDensity, route_stats: RouteStatistics
    ) -> list[str]:
        """Write the day's documents, the summary last (its presence means all are there)."""
        day = summary.day
        written = []
        for key, document in (
            (density_key(day), density),
            (routes_key(day), route_stats),
            (summary_key(day), summary),
        ):
            self.store.put(key, document.model_dump_json().encode())
            written.append(key)
        return written

    def _read(self, key: str, model: type[M]) -> M | None:
        data = self.store.get(key)
        if data is None:
            return None
        try:
            return model.model_validate_json(data)
        except ValidationError as exc:
            log.warning("%s is not a %s, ignored: %s", key, model.__name__, exc)
            return None


class DayNotOver(ValueError):
    """A day is summarised once it is over: the API takes a summary for the whole day."""

    def __init__(self, day: date) -> None:
        super().__init__(f"{day} is not over yet (UTC); summarise a past day")
        self.day = day


def _now() -> datetime:
    return datetime.now(UTC)


def yesterday(now: datetime | None = None) -> date:
    """The last complete UTC day."""
    return ((now or _now()).astimezone(UTC) - timedelta(days=1)).date()


@dataclass
class DailyProcessor:
    engine: FlightsEngine
    processed: Processed
    documents: DailyDocuments
    legs: LegRepository
    cycles: CycleRepository
    clock: Callable[[], datetime] = field(default=_now)

    def run(self, day: date) -> tuple[list[str], DailySummary]:
        """Summarise ``day`` and write its documents; returns their keys and the summary."""
        summary, density, route_stats = self.summarise(day)
        return self.documents.write(summary, density, route_stats), summary

    def summarise(self, day: date) -> tuple[DailySummary, TrafficDensity, RouteStatistics]:
        """The day's documents; raises ``DayNotOver`` for today or a later day."""
        window = day_window(day)
        start, end, now = window.start, window.end, self.clock()
        if end > now:
            raise DayNotOver(day)
        scope = flights.Scope(self.processed.dataset([day]), start, end, Basis.PARQUET)
        states, aircraft = flights.day_totals(self.engine, scope)
        legs = traffic.legs(self.legs, start, end, now)
        summary = DailySummary(
            day=day,
            generated_at=now,
            states=states,
            aircraft=aircraft,
            regions=flights.region_counts(self.engine, scope),
            countries=flights.country_counts(self.engine, scope),
            altitudes=flights.altitude_histogram(self.engine, scope, SUMMARY_BUCKET_M),
            airports=BusiestAirports(
                start=start,
                end=end,
                basis=Basis.ROUTES,
                airports=traffic.busiest_airports(legs, start, end),
            ),
            quality=quality.report(
                self.cycles.recent_cycles(quality.CYCLE_HISTORY),
                start,
                end,
                now=now,
                retained=quality.CYCLE_HISTORY,
            ),
        )
        density = flights.traffic_density(self.engine, scope, SUMMARY_CELL_DEG, None)
        route_stats = RouteStatistics(
            start=start,
            end=end,
            basis=Basis.ROUTES,
            routes=traffic.route_statistics(legs, start, end),
        )
        return summary, density, route_stats


def build_processor(
    settings: Settings, legs: LegRepository, cycles: CycleRepository
) -> DailyProcessor:
    """The processor reading and writing where the settings put the processed data (the
    Parquet queried on Athena when the settings name a workgroup)."""
    return DailyProcessor(
        engine=FlightsEngine(),
        processed=past_days(settings),
        documents=DailyDocuments(object_store(settings)),
        legs=legs,
        cycles=cycles,
    )
