"""Busiest airports and route statistics from stored route legs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from analytics import traffic
from analytics.results import AirportTraffic
from domain.leg import Leg
from storage.stores import Stores

START = datetime(2026, 11, 20, tzinfo=UTC)
END = START + timedelta(days=1)


def leg(icao24: str, origin: str | None, departed_h: float, **fields: object) -> Leg:
    return Leg.model_validate(
        {
            "icao24": icao24,
            "departure_icao": origin,
            "departed_at": START + timedelta(hours=departed_h),
            **fields,
        }
    )


def landed(
    icao24: str,
    origin: str | None,
    dest: str | None,
    departed_h: float,
    minutes: float,
    **f: object,
) -> Leg:
    departed = START + timedelta(hours=departed_h)
    return leg(
        icao24,
        origin,
        departed_h,
        arrival_icao=dest,
        arrived_at=departed + timedelta(minutes=minutes),
        **f,
    )


LEGS = [
    landed("aaaaa1", "EGLL", "LFPG", 8, 70, great_circle_km=348.0, flown_km=360.0),
    landed("aaaaa2", "EGLL", "LFPG", 9, 80, great_circle_km=348.0, flown_km=380.0),
    landed("aaaaa3", "EGLL", "LFPG", 12, 75, great_circle_km=348.0, flown_km=371.0),
    landed("aaaaa4", "LFPG", "EGLL", 14, 65, great_circle_km=348.0, flown_km=355.0),
    landed("aaaaa5", "EHAM", None, 15, 40),  # landed away from airports
    landed("aaaaa6", None, "EHAM", 16, 30),  # first seen airborne
    landed("aaaaa7", "EGLL", "EHAM", 23.5, 60),  # departed in the window, arrived after it
    landed("aaaaa8", "KJFK", "EGLL", -6, 400),  # departed before the window
    leg("aaaaa9", "EHAM", 20),  # in flight
]


def test_busiest_airports_count_departures_and_arrivals_in_the_window() -> None:
    found = traffic.busiest_airports(LEGS, START, END)

    assert found == [
        AirportTraffic(icao="EGLL", departures=4, arrivals=2),
        AirportTraffic(icao="LFPG", departures=1, arrivals=3),
        AirportTraffic(icao="EHAM", departures=2, arrivals=1),  # aaaaa7 lands after the end
    ]
    assert [a.movements for a in found] == [6, 4, 3]


def test_route_statistics_take_legs_that_arrived_between_two_airports() -> None:
    found = traffic.route_statistics(LEGS, START, END)

    assert [(s.origin, s.destination, s.flights) for s in found] == [
        ("EGLL", "LFPG", 3),
        ("KJFK", "EGLL", 1),
        ("LFPG", "EGLL", 1),
    ]
    london_paris = found[0]
    assert london_paris.median_duration_s == 75 * 60
    assert london_paris.distance_km == 348.0
    assert london_paris.median_flown_km == 371.0


def test_days_of_airports_add_up() -> None:
    day1 = [AirportTraffic(icao="EGLL", departures=2, arrivals=1)]
    day2 = [
        AirportTraffic(icao="EGLL", departures=1, arrivals=0),
        AirportTraffic(icao="LFPG", departures=3, arrivals=3),
    ]

    assert traffic.merge_airports([day1, day2]) == [
        AirportTraffic(icao="LFPG", departures=3, arrivals=3),
        AirportTraffic(icao="EGLL", departures=3, arrivals=1),
    ]


def test_legs_read_from_the_store_find_every_departure_and_arrival(stores: Stores) -> None:
    stores.legs.put_legs(LEGS)
    # The in-flight version of a leg that has since landed is replaced by the landed one.
    stores.legs.put_legs([leg("aaaaa1", "EGLL", 8)])
    stores.legs.put_legs([LEGS[0]])

    found = traffic.legs(stores.legs, START, END, now=END + timedelta(days=3))

    assert sorted(r.icao24 for r in found) == [f"aaaaa{n}" for n in range(1, 10)]
    assert traffic.busiest_airports(found, START, END) == traffic.busiest_airports(LEGS, START, END)
