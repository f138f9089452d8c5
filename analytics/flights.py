"""Aggregates over flight states: the SQL of ``analytics/sql`` turned into results.

A ``Scope`` is what one answer counts: a ``flights`` relation and the window of it. The
live scope is the latest state of each aircraft (one row each, already the live window),
counted whole; a historical scope is a window of the processed Parquet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from analytics.engine import Engine, Relation
from analytics.results import (
    AltitudeBucket,
    AltitudeHistogram,
    Basis,
    CountryCount,
    CountryCounts,
    DensityCell,
    RegionCount,
    RegionCounts,
    TrafficDensity,
)
from domain import BoundingBox
from domain.geo import REGIONS

_EVER = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class Scope:
    """``flights`` counted over ``[start, end)``; a ``LIVE`` scope is counted whole (its
    rows are the latest states, some positioned before ``start``)."""

    flights: Relation
    start: datetime
    end: datetime
    basis: Basis

    def values(self) -> dict[str, Any]:
        since, until = _EVER if self.basis is Basis.LIVE else (self.start, self.end)
        last = until - timedelta(microseconds=1)
        return {
            "since": since,
            "until": until,
            "first_day": f"{since:%Y-%m-%d}",
            "last_day": f"{last:%Y-%m-%d}",
        }

    def result(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "basis": self.basis}


def _split(rows: list[tuple[Any, ...]]) -> tuple[int, list[tuple[Any, ...]]]:
    """The grouping-set total (first column non-zero) and the other rows, first column off."""
    total = next((row[-1] for row in rows if row[0]), 0)
    return int(total), [row[1:] for row in rows if not row[0]]


def region_counts(engine: Engine, scope: Scope) -> RegionCounts:
    """Every region of ``domain.geo.REGIONS`` (zero when empty), most aircraft first."""
    total, rows = _split(engine.rows("region_counts", scope.flights, scope.values()))
    counts = dict.fromkeys(REGIONS, 0) | {region: int(n) for region, n in rows}
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return RegionCounts(
        **scope.result(),
        aircraft=total,
        regions=[RegionCount(region=r, aircraft=n) for r, n in ordered],
    )


def country_counts(engine: Engine, scope: Scope) -> CountryCounts:
    """Countries with aircraft, most first; unknown (``None``) last among equals."""
    total, rows = _split(engine.rows("country_counts", scope.flights, scope.values()))
    ordered = sorted(rows, key=lambda row: (-row[1], row[0] is None, row[0] or ""))
    return CountryCounts(
        **scope.result(),
        aircraft=total,
        countries=[CountryCount(country=c, aircraft=int(n)) for c, n in ordered],
    )


def altitude_histogram(engine: Engine, scope: Scope, bucket_m: float) -> AltitudeHistogram:
    """Bands from the lowest to the highest occupied one, empty bands included."""
    values = {**scope.values(), "bucket_m": bucket_m}
    total, rows = _split(engine.rows("altitude_histogram", scope.flights, values))
    kinds = {kind: int(n) for kind, _, n in rows if kind != "air"}
    bands = {int(band): int(n) for kind, band, n in rows if kind == "air"}
    low, high = (min(bands), max(bands)) if bands else (0, -1)
    return AltitudeHistogram(
        **scope.result(),
        bucket_m=bucket_m,
        aircraft=total,
        on_ground=kinds.get("ground", 0),
        without_altitude=kinds.get("unknown", 0),
        buckets=[
            AltitudeBucket(low_m=band * bucket_m, aircraft=bands.get(band, 0))
            for band in range(low, high + 1)
        ],
    )


def traffic_density(
    engine: Engine, scope: Scope, cell_deg: float, bbox: BoundingBox | None
) -> TrafficDensity:
    """Occupied cells of the ``cell_deg`` grid inside ``bbox`` (everywhere without one),
    from south-west to north-east."""
    box = bbox or BoundingBox(-90.0, -180.0, 90.0, 180.0)
    values = {
        **scope.values(),
        "cell_deg": cell_deg,
        "top_row": math.ceil(90.0 / cell_deg) - 1,
        "south": box.south,
        "north": box.north,
        "crosses": box.crosses_antimeridian,
        "west": box.west,
        "east": box.east,
    }
    total, rows = _split(engine.rows("traffic_density", scope.flights, values))
    return TrafficDensity(
        **scope.result(),
        cell_deg=cell_deg,
        aircraft=total,
        cells=[
            DensityCell(row=int(row), col=int(col), aircraft=int(n)) for row, col, n in sorted(rows)
        ],
    )


def day_totals(engine: Engine, scope: Scope) -> tuple[int, int]:
    """States and distinct aircraft of the scope."""
    [(states, aircraft)] = engine.rows("day_totals", scope.flights, scope.values())
    return int(states), int(aircraft)
