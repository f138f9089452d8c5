"""The daily processor over a recorded day: its documents, read back, hold what the
queries over the day's Parquet, route legs and cycles answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from recorded_day import CYCLES, DAY, RecordedDay

from analytics import flights, quality
from analytics.daily import (
    DailyDocuments,
    DayNotOver,
    build_processor,
    density_key,
    routes_key,
    summary_key,
    yesterday,
)
from analytics.engine import FlightsEngine
from analytics.files import LocalObjects, LocalProcessed
from analytics.params import day_window
from analytics.results import Basis
from domain.leg import Leg

ENGINE = FlightsEngine()


@pytest.fixture(scope="module")
def written(recorded: RecordedDay) -> list[str]:
    departed = CYCLES[0] - timedelta(minutes=30)
    recorded.stores.legs.put_legs(
        [
            Leg(
                icao24="4ca7b5",
                departure_icao="EIDW",
                departed_at=departed,
                arrival_icao="EGLL",
                arrived_at=departed + timedelta(minutes=65),
                great_circle_km=449.0,
                flown_km=470.0,
            )
        ]
    )
    processor = build_processor(recorded.settings, recorded.stores.legs, recorded.stores.cycles)
    keys, _ = processor.run(DAY)
    return keys


def test_documents_are_written_beside_the_parquet(
    recorded: RecordedDay, written: list[str]
) -> None:
    assert written == [
        "processed/analytics/traffic-density/2026-11-20.json",
        "processed/analytics/route-statistics/2026-11-20.json",
        "processed/flights/aggregates/daily/2026-11-20-summary.json",
    ]
    assert written == [density_key(DAY), routes_key(DAY), summary_key(DAY)]
    for key in written:
        assert (recorded.settings.data_dir / key).is_file()


def test_the_summary_holds_the_days_answers(recorded: RecordedDay, written: list[str]) -> None:
    documents = DailyDocuments(LocalObjects(recorded.settings.data_dir))
    summary = documents.summary(DAY)
    window = day_window(DAY)
    scope = flights.Scope(
        LocalProcessed(recorded.settings.data_dir).dataset([DAY]),
        window.start,
        window.end,
        Basis.PARQUET,
    )

    assert summary is not None
    assert summary.day == DAY
    assert summary.regions == flights.region_counts(ENGINE, scope)
    assert summary.countries == flights.country_counts(ENGINE, scope)
    assert summary.altitudes == flights.altitude_histogram(ENGINE, scope, 1000.0)
    assert documents.density(DAY) == flights.traffic_density(ENGINE, scope, 1.0, None)
    # States are filed by their own time: a position from 23:58 reported at 00:02 is the day's.
    on_the_day = [r for r in recorded.parquet_rows() if r["time"].date() == DAY]  # type: ignore[attr-defined]
    assert summary.states == len(on_the_day) > sum(r.stored for r in recorded.reports[:3])
    assert summary.aircraft >= summary.regions.aircraft > 400


def test_the_summary_holds_the_days_routes_and_cycles(
    recorded: RecordedDay, written: list[str]
) -> None:
    documents = DailyDocuments(LocalObjects(recorded.settings.data_dir))
    summary = documents.summary(DAY)
    route_stats = documents.routes(DAY)

    assert summary is not None
    assert route_stats is not None
    assert [(s.origin, s.destination, s.flights) for s in route_stats.routes] == [
        ("EIDW", "EGLL", 1)
    ]
    assert route_stats.routes[0].median_duration_s == 65 * 60
    by_code = {a.icao: (a.departures, a.arrivals) for a in summary.airports.airports}
    assert by_code["EIDW"] == (1, 0)
    assert by_code["EGLL"] == (0, 1)
    [source] = summary.quality.sources
    assert source.cycles == 3  # the cycle after midnight belongs to the next day
    assert summary.quality.received == sum(r.received for r in recorded.reports[:3])
    assert summary.quality.rejected == sum(r.rejected for r in recorded.reports[:3])
    assert summary.quality.basis is Basis.CYCLES


def test_a_day_that_is_not_over_is_refused(recorded: RecordedDay) -> None:
    processor = build_processor(recorded.settings, recorded.stores.legs, recorded.stores.cycles)

    with pytest.raises(DayNotOver, match="is not over yet"):
        processor.run(datetime.now(UTC).date())
    assert yesterday(datetime(2026, 3, 1, 0, 30, tzinfo=UTC)).isoformat() == "2026-02-28"


def test_a_document_that_does_not_validate_counts_as_missing(
    recorded: RecordedDay, caplog: pytest.LogCaptureFixture
) -> None:
    objects = LocalObjects(recorded.settings.data_dir)
    other = DAY - timedelta(days=1)
    objects.put(summary_key(other), b'{"version": 2}')

    assert DailyDocuments(objects).summary(other) is None
    assert DailyDocuments(objects).routes(other) is None
    assert "is not a DailySummary, ignored" in caplog.text
    assert quality.CYCLE_HISTORY == 10_000
