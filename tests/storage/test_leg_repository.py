"""LegRepository contract, run against every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.leg import Leg
from storage.stores import Stores

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def leg(icao24: str = "abc123", departed: datetime = T0, **fields: object) -> Leg:
    return Leg.model_validate({"icao24": icao24, "departed_at": departed, **fields})


@pytest.fixture
def routes(stores: Stores):  # type: ignore[no-untyped-def]
    return stores.legs


def test_current_is_the_most_recent_leg(routes) -> None:  # type: ignore[no-untyped-def]
    first = leg(departure_icao="EGLL", arrival_icao="LFPG", arrived_at=T0 + timedelta(hours=1))
    second = leg(departed=T0 + timedelta(hours=2), departure_icao="LFPG", flown_km=12.5)
    routes.put_legs([first, second, leg("def456")])

    found = routes.current(["abc123", "def456", "ffffff"])

    assert found["abc123"] == second
    assert found["def456"].departure_icao is None
    assert "ffffff" not in found


def test_putting_a_leg_again_replaces_it(routes) -> None:  # type: ignore[no-untyped-def]
    routes.put_legs([leg(flown_km=1.0)])
    routes.put_legs([leg(flown_km=99.0, arrival_icao="LFPG", arrived_at=T0 + timedelta(hours=1))])

    assert routes.current(["abc123"])["abc123"].flown_km == 99.0
    assert routes.in_flight(T0 - timedelta(days=1)) == []


def test_in_flight_and_completed(routes) -> None:  # type: ignore[no-untyped-def]
    landed = leg("aaaaaa", arrival_icao="EHAM", arrived_at=T0 + timedelta(minutes=50))
    flying = leg("bbbbbb")
    routes.put_legs([landed, flying])

    assert routes.in_flight(datetime.now(UTC) - timedelta(minutes=1)) == [flying]
    assert routes.in_flight(datetime.now(UTC) + timedelta(minutes=1)) == []
    assert routes.completed(T0, T0 + timedelta(hours=1)) == [landed]
    assert routes.completed(T0 + timedelta(hours=1), T0 + timedelta(hours=2)) == []
