"""``analytics`` over HTTP: live figures on the replayed world add up to ``flights``; figures
over a recorded past day come from its Parquet, then from its daily documents, alike."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from recorded_day import CYCLES, DAY, RecordedDay

from analytics.daily import build_processor
from app import create_app
from domain.leg import Leg
from testkit import ReplayWorld, TestClient

EUROPE = {"south": 35.0, "west": -10.0, "north": 60.0, "east": 30.0}
PACIFIC = {"south": -50.0, "west": 150.0, "north": 60.0, "east": -120.0}


def data(body: dict[str, Any]) -> dict[str, Any]:
    assert "errors" not in body, body
    found: dict[str, Any] = body["data"]
    return found


def error_of(body: dict[str, Any]) -> str:
    assert body["data"] is None, body
    [error] = body["errors"]
    message: str = error["message"]
    return message


LIVE = """
query ($box: BoundingBoxInput) {
  all: flights(first: 1) { totalCount }
  boxed: flights(bbox: $box, first: 1) { totalCount }
  analytics {
    regionCounts { aircraft basis start end regions { region aircraft } }
    countryCounts { aircraft countries { country aircraft } }
    altitudeHistogram(bucketM: 500) {
      aircraft onGround withoutAltitude buckets { lowM highM aircraft }
    }
    everywhere: trafficDensity(cellDeg: 5) { aircraft maxAircraft cells { aircraft } }
    boxed: trafficDensity(bbox: $box, cellDeg: 0.5) {
      aircraft cells { row col south west north east aircraft }
    }
  }
}
"""


@pytest.mark.parametrize("box", [EUROPE, PACIFIC])
def test_live_figures_add_up_to_the_flights_total(
    replay_world: ReplayWorld, box: dict[str, float]
) -> None:
    found = data(replay_world.query(LIVE, box=box))
    total, a = found["all"]["totalCount"], found["analytics"]

    regions = a["regionCounts"]
    assert regions["basis"] == "LIVE"
    assert regions["aircraft"] == total > 5_000
    assert sum(r["aircraft"] for r in regions["regions"]) == total
    assert sum(c["aircraft"] for c in a["countryCounts"]["countries"]) == total
    histogram = a["altitudeHistogram"]
    in_bands = sum(b["aircraft"] for b in histogram["buckets"])
    assert in_bands + histogram["onGround"] + histogram["withoutAltitude"] == total
    assert all(b["highM"] - b["lowM"] == 500 for b in histogram["buckets"])
    assert sum(c["aircraft"] for c in a["everywhere"]["cells"]) == a["everywhere"]["aircraft"]
    assert a["everywhere"]["aircraft"] == total
    boxed = a["boxed"]
    assert boxed["aircraft"] == found["boxed"]["totalCount"] > 20
    assert sum(c["aircraft"] for c in boxed["cells"]) == boxed["aircraft"]
    first = boxed["cells"][0]
    assert first["north"] - first["south"] == pytest.approx(0.5)
    assert first["south"] == pytest.approx(first["row"] * 0.5)


def test_live_window_is_the_flights_live_window(replay_world: ReplayWorld) -> None:
    found = data(replay_world.query("{ analytics { regionCounts { start end } } }"))
    span = found["analytics"]["regionCounts"]

    assert span["start"] < span["end"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('{ analytics { regionCounts(window: "P30D") { aircraft } } }', "longer than 7 days"),
        ('{ analytics { dataQuality(window: "last week") { basis } } }', "is not a duration"),
        ("{ analytics { trafficDensity(cellDeg: 0) { aircraft } } }", "cellDeg must be between"),
        (
            "{ analytics { trafficDensity(bbox: {south: 50, west: 0, north: 40, east: 1}) "
            "{ aircraft } } }",
            "south (50.0) must not be greater than north (40.0)",
        ),
        ("{ analytics { altitudeHistogram(bucketM: 20000) { aircraft } } }", "bucketM must be"),
        ("{ analytics { busiestAirports(limit: 1000) { basis } } }", "limit must be between"),
    ],
)
def test_bad_arguments_say_what_is_wrong(
    replay_world: ReplayWorld, query: str, message: str
) -> None:
    assert message in error_of(replay_world.query(query))


@pytest.fixture(scope="module")
def past_day(recorded: RecordedDay) -> Iterator[TestClient]:
    departed = CYCLES[0] - timedelta(minutes=30)
    recorded.stores.legs.put_legs(
        [
            Leg(
                icao24=f"4ca7b{n}",
                departure_icao="EIDW",
                departed_at=departed + timedelta(minutes=n),
                arrival_icao="EGLL",
                arrived_at=departed + timedelta(minutes=60 + 2 * n),
                great_circle_km=449.0,
                flown_km=470.0 + n,
            )
            for n in range(3)
        ]
    )
    with TestClient(create_app(recorded.settings, ingest=False)) as client:
        yield client


def ask(client: TestClient, query: str) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return data(found)["analytics"]


PAST = f"""{{ analytics {{
  regionCounts(window: "{DAY}") {{ aircraft basis start end regions {{ region aircraft }} }}
  countryCounts(window: "{DAY}") {{ aircraft basis countries {{ country aircraft }} }}
  altitudeHistogram(window: "{DAY}") {{ basis aircraft onGround buckets {{ lowM aircraft }} }}
  trafficDensity(window: "{DAY}") {{ basis aircraft cells {{ row col aircraft }} }}
  busiestAirports(window: "{DAY}", limit: 2) {{
    basis airports {{ icao departures arrivals movements airport {{ name }} }}
  }}
  routeStatistics(window: "{DAY}") {{
    basis routes {{ origin destination flights medianDurationS distanceKm medianFlownKm
                    originAirport {{ iata }} }}
  }}
  dataQuality(window: "{DAY}") {{
    basis received rejected rejectRate freshnessLagS
    reasons {{ reason count rate }} sources {{ source cycles missedCycles expectedIntervalS }}
  }}
}} }}"""


def without_basis(found: dict[str, Any]) -> dict[str, Any]:
    return {name: {k: v for k, v in part.items() if k != "basis"} for name, part in found.items()}


def test_a_past_day_answers_alike_from_parquet_and_from_its_documents(
    past_day: TestClient, recorded: RecordedDay
) -> None:
    before = ask(past_day, PAST)
    processor = build_processor(recorded.settings, recorded.stores.legs, recorded.stores.cycles)
    processor.run(DAY)
    after = ask(past_day, PAST)

    assert {part["basis"] for part in before.values()} == {"PARQUET", "ROUTES", "CYCLES"}
    assert {part["basis"] for part in after.values()} == {"DAILY_SUMMARY"}
    assert without_basis(after) == without_basis(before)
    assert before["regionCounts"]["start"] == "2026-11-20T00:00:00+00:00"
    assert before["regionCounts"]["end"] == "2026-11-21T00:00:00+00:00"
    assert before["regionCounts"]["aircraft"] > 400


def test_a_past_days_routes_and_quality(past_day: TestClient, recorded: RecordedDay) -> None:
    found = ask(past_day, PAST)

    assert found["busiestAirports"]["airports"] == [
        {
            "icao": "EGLL",
            "departures": 0,
            "arrivals": 3,
            "movements": 3,
            "airport": {"name": "London Heathrow Airport"},
        },
        {
            "icao": "EIDW",
            "departures": 3,
            "arrivals": 0,
            "movements": 3,
            "airport": {"name": "Dublin Airport"},
        },
    ]
    assert found["routeStatistics"]["routes"] == [
        {
            "origin": "EIDW",
            "destination": "EGLL",
            "flights": 3,
            "medianDurationS": 3660.0,
            "distanceKm": 449.0,
            "medianFlownKm": 471.0,
            "originAirport": {"iata": "DUB"},
        }
    ]
    quality = found["dataQuality"]
    day_reports = recorded.reports[:3]
    assert quality["received"] == sum(r.received for r in day_reports)
    assert quality["rejected"] == sum(r.rejected for r in day_reports) > 0
    assert quality["rejectRate"] == round(quality["rejected"] / quality["received"], 6)
    assert quality["freshnessLagS"] is None  # the window does not end now
    assert quality["sources"] == [
        # Three cycles hours apart tell no schedule: none is counted missed.
        {"source": "replay", "cycles": 3, "missedCycles": 0, "expectedIntervalS": None}
    ]


def test_a_window_ending_now_reports_the_freshness_lag(past_day: TestClient) -> None:
    found = ask(past_day, '{ analytics { dataQuality(window: "P7D") { basis freshnessLagS } } }')

    lag = found["dataQuality"]["freshnessLagS"]
    assert found["dataQuality"]["basis"] == "CYCLES"
    assert lag > (CYCLES[-1] - CYCLES[0]).total_seconds()


def test_an_empty_store_counts_nothing(client: TestClient) -> None:
    query = """{ analytics {
      regionCounts { aircraft basis regions { aircraft } }
      trafficDensity { aircraft maxAircraft cells { row } }
      busiestAirports { basis airports { icao } }
      dataQuality { basis received rejectRate freshnessLagS sources { source } }
    } }"""

    found = ask(client, query)

    assert found["regionCounts"]["aircraft"] == 0
    assert found["regionCounts"]["basis"] == "LIVE"
    assert {r["aircraft"] for r in found["regionCounts"]["regions"]} == {0}
    assert found["trafficDensity"] == {"aircraft": 0, "maxAircraft": 0, "cells": []}
    assert found["busiestAirports"] == {"basis": "ROUTES", "airports": []}
    assert found["dataQuality"] == {
        "basis": "CYCLES",
        "received": 0,
        "rejectRate": 0.0,
        "freshnessLagS": None,
        "sources": [],
    }
