"""The ``FlightRepository`` contract, run against every backend through ``flight_repo``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from domain import BoundingBox, FlightState, InvalidArgument
from storage import cursor
from storage.base import FlightFilter, FlightRepository
from storage.stores import Stores
from testkit import T0, make_state

MINUTE = timedelta(minutes=1)


def world(count: int = 60) -> list[FlightState]:
    """``count`` aircraft spread over the globe, every third on the ground."""
    states = []
    for i in range(count):
        states.append(
            make_state(
                f"{i:06x}",
                T0 + timedelta(seconds=i),
                latitude=-60.0 + 2 * i,
                longitude=-179.0 + 6 * i,
                on_ground=i % 3 == 0,
                callsign=f"TST{i:03d}",
                origin_country="Germany" if i % 2 else "Spain",
            )
        )
    return states


def same_state(stored: FlightState | None, original: FlightState) -> bool:
    """``stored`` has every field ``original`` was given (a store may add derived ones)."""
    assert stored is not None
    fields = original.model_fields_set
    return stored.model_dump(include=fields) == original.model_dump(include=fields)


def codes(states: list[FlightState]) -> list[str]:
    return [s.icao24 for s in states]


def search(repo: FlightRepository, first: int = 1000, **filters: object) -> list[str]:
    page = repo.search_latest(FlightFilter(**filters), first=first)  # type: ignore[arg-type]
    assert page.total_count == len(page.items)
    return codes(page.items)


def test_put_is_idempotent(flight_repo: FlightRepository) -> None:
    batch = world(20)
    first = flight_repo.put_states(batch)
    again = flight_repo.put_states(batch)
    assert (first.stored, first.duplicates) == (20, 0)
    assert (again.stored, again.duplicates) == (0, 20)
    assert len(search(flight_repo)) == 20


def test_put_counts_every_state_once(flight_repo: FlightRepository) -> None:
    flight_repo.put_states(world(10))
    mixed = [*world(15), make_state("000001", T0 + timedelta(hours=1))]
    result = flight_repo.put_states(mixed)
    assert result.stored + result.duplicates == len(mixed)
    assert (result.stored, result.duplicates) == (6, 10)


def test_put_names_the_states_it_stored_first(flight_repo: FlightRepository) -> None:
    a, b = make_state("aaaaaa", T0), make_state("bbbbbb", T0)
    flight_repo.put_states([a])
    result = flight_repo.put_states([a, b, b, make_state("aaaaaa", T0 + MINUTE)])
    assert result.new is not None
    assert sorted((s.icao24, s.time) for s in result.new) == [
        ("aaaaaa", T0 + MINUTE),
        ("bbbbbb", T0),
    ]
    assert (result.stored, result.duplicates) == (2, 2)


def test_put_of_nothing(flight_repo: FlightRepository) -> None:
    result = flight_repo.put_states([])
    assert (result.stored, result.duplicates) == (0, 0)


def test_state_round_trips_unchanged(flight_repo: FlightRepository) -> None:
    state = make_state(
        "~a1b2c3",
        callsign="DLH9  ",
        geo_altitude_m=10_250.5,
        squawk="7700",
        spi=True,
        position_source=2,
        category=6,
        on_ground=False,
        vertical_rate_mps=-5.2,
    )
    assert state.model_fields_set >= {"non_icao", "squawk", "spi", "position_source", "category"}
    flight_repo.put_states([state])
    assert same_state(flight_repo.latest("a1b2c3"), state)
    [(code, many)] = flight_repo.latest_many(["a1b2c3"]).items()
    assert code == "a1b2c3"
    assert same_state(many, state)


def test_latest_keeps_the_newest_state(flight_repo: FlightRepository) -> None:
    old = make_state("abc123", T0, latitude=10.0)
    new = make_state("abc123", T0 + MINUTE, latitude=11.0)
    flight_repo.put_states([new])
    result = flight_repo.put_states([old])
    assert result.stored == 1  # history keeps it
    latest = flight_repo.latest("abc123")
    assert latest is not None
    assert latest.latitude == 11.0
    flight_repo.put_states([make_state("abc123", T0 + 2 * MINUTE, latitude=12.0)])
    assert flight_repo.latest("abc123").latitude == 12.0  # type: ignore[union-attr]


def test_latest_within_one_batch_in_any_order(flight_repo: FlightRepository) -> None:
    states = [make_state("abc123", T0 + i * MINUTE, latitude=float(i)) for i in (3, 1, 4, 2)]
    flight_repo.put_states(states)
    assert flight_repo.latest("abc123").latitude == 4.0  # type: ignore[union-attr]


def test_latest_of_unknown_aircraft(flight_repo: FlightRepository) -> None:
    assert flight_repo.latest("ffffff") is None
    assert flight_repo.latest_many([]) == {}
    flight_repo.put_states(world(3))
    assert set(flight_repo.latest_many(["000001", "000002", "ffffff"])) == {"000001", "000002"}


def test_search_orders_by_icao24_and_skips_states_without_position(
    flight_repo: FlightRepository,
) -> None:
    flight_repo.put_states([*reversed(world(5)), make_state("ffff00", latitude=None)])
    assert search(flight_repo) == ["000000", "000001", "000002", "000003", "000004"]


def test_bbox(flight_repo: FlightRepository) -> None:
    states = world()
    flight_repo.put_states(states)
    box = BoundingBox(south=-20.0, west=-60.0, north=30.0, east=60.0)
    expected = [s.icao24 for s in states if box.contains(s.latitude, s.longitude)]  # type: ignore[arg-type]
    assert expected
    assert len(expected) < len(states)
    assert search(flight_repo, bbox=box) == expected


def test_bbox_across_the_antimeridian(flight_repo: FlightRepository) -> None:
    fiji = make_state("aaa001", latitude=-17.7, longitude=178.4)
    samoa = make_state("aaa002", latitude=-13.8, longitude=-171.8)
    tonga = make_state("aaa003", latitude=-21.2, longitude=-175.2)
    sydney = make_state("aaa004", latitude=-33.9, longitude=151.2)
    hawaii = make_state("aaa005", latitude=21.3, longitude=-157.9)
    flight_repo.put_states([fiji, samoa, tonga, sydney, hawaii])
    box = BoundingBox(south=-25.0, west=170.0, north=0.0, east=-170.0)
    assert search(flight_repo, bbox=box) == ["aaa001", "aaa002", "aaa003"]
    # The same box without the crossing is the rest of the world.
    assert search(flight_repo, bbox=BoundingBox(-25.0, -170.0, 0.0, 170.0)) == []


def test_callsign_prefix(flight_repo: FlightRepository) -> None:
    flight_repo.put_states(
        [
            make_state("000001", callsign="DLH9"),
            make_state("000002", callsign="DLH400"),
            make_state("000003", callsign="AFR1"),
            make_state("000004", callsign=None),
        ]
    )
    assert search(flight_repo, callsign_prefix="DLH") == ["000001", "000002"]
    assert search(flight_repo, callsign_prefix="  DLH4 ") == ["000002"]
    assert search(flight_repo, callsign_prefix="LH") == []


def test_callsign_prefix_escapes_like_wildcards(flight_repo: FlightRepository) -> None:
    flight_repo.put_states(
        [
            make_state("000001", callsign="AB%1"),
            make_state("000002", callsign="AB_2"),
            make_state("000003", callsign="ABC3"),
            make_state("000004", callsign="AB\\4"),
        ]
    )
    assert search(flight_repo, callsign_prefix="AB%") == ["000001"]
    assert search(flight_repo, callsign_prefix="AB_") == ["000002"]
    assert search(flight_repo, callsign_prefix="AB\\") == ["000004"]
    assert search(flight_repo, callsign_prefix="%") == []
    assert search(flight_repo, callsign_prefix="AB") == ["000001", "000002", "000003", "000004"]


def test_origin_country_is_case_insensitive(flight_repo: FlightRepository) -> None:
    states = world(10)
    flight_repo.put_states(states)
    germans = [s.icao24 for s in states if s.origin_country == "Germany"]
    assert search(flight_repo, origin_country="germany") == germans
    assert search(flight_repo, origin_country="GERMANY") == germans
    assert search(flight_repo, origin_country="Germ") == []


def test_on_ground(flight_repo: FlightRepository) -> None:
    states = world(12)
    flight_repo.put_states(states)
    grounded = [s.icao24 for s in states if s.on_ground]
    airborne = [s.icao24 for s in states if not s.on_ground]
    assert search(flight_repo, on_ground=True) == grounded
    assert search(flight_repo, on_ground=False) == airborne
    assert len(grounded) == 4


def test_since_filters_on_last_contact(flight_repo: FlightRepository) -> None:
    states = world(10)  # last contact T0 + i seconds
    flight_repo.put_states(states)
    assert search(flight_repo, since=T0 + timedelta(seconds=7)) == ["000007", "000008", "000009"]
    assert search(flight_repo, since=T0 + timedelta(days=1)) == []


def test_filters_combine(flight_repo: FlightRepository) -> None:
    states = world()
    flight_repo.put_states(states)
    box = BoundingBox(-60.0, -180.0, 60.0, 0.0)
    expected = [
        s.icao24
        for s in states
        if box.contains(s.latitude, s.longitude)  # type: ignore[arg-type]
        and not s.on_ground
        and s.origin_country == "Spain"
    ]
    assert expected
    assert search(flight_repo, bbox=box, on_ground=False, origin_country="spain") == expected


def test_pagination_walks_every_aircraft_once(flight_repo: FlightRepository) -> None:
    states = world(47)
    flight_repo.put_states(states)
    flt = FlightFilter(on_ground=False)
    expected = [s.icao24 for s in states if not s.on_ground]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = flight_repo.search_latest(flt, first=5, after=after)
        pages += 1
        assert page.total_count == len(expected)
        assert len(page.cursors) == len(page.items)
        seen += codes(page.items)
        if not page.has_next_page:
            break
        assert len(page.items) == 5
        after = page.end_cursor
    assert seen == expected
    assert pages == -(-len(expected) // 5)


@pytest.mark.parametrize(
    "flt",
    [
        FlightFilter(),
        FlightFilter(since=T0 + timedelta(seconds=30)),
        FlightFilter(bbox=BoundingBox(south=-20.0, west=-60.0, north=30.0, east=60.0)),
        FlightFilter(on_ground=False, origin_country="germany", callsign_prefix="TST0"),
    ],
    ids=["all", "since", "bbox", "text"],
)
def test_all_latest_is_every_page_of_search_latest_at_once(
    flight_repo: FlightRepository, flt: FlightFilter
) -> None:
    flight_repo.put_states(world())
    every = flight_repo.search_latest(flt, first=1000)

    found = flight_repo.all_latest(flt)

    assert every.items
    assert not every.has_next_page
    assert found == every.items


def test_cursor_resumes_after_its_own_item(flight_repo: FlightRepository) -> None:
    flight_repo.put_states(world(10))
    page = flight_repo.search_latest(FlightFilter(), first=10)
    resumed = flight_repo.search_latest(FlightFilter(), first=3, after=page.cursors[4])
    assert codes(resumed.items) == codes(page.items)[5:8]
    assert resumed.has_next_page


def test_empty_page(flight_repo: FlightRepository) -> None:
    page = flight_repo.search_latest(FlightFilter(), first=10)
    assert (page.items, page.cursors, page.total_count, page.has_next_page) == ([], [], 0, False)
    assert page.end_cursor is None


@pytest.mark.parametrize("bad", ["nonsense", "", "!!!", "é", cursor.encode("airports", "EGLL")])
def test_bad_cursor_is_invalid_argument(flight_repo: FlightRepository, bad: str) -> None:
    flight_repo.put_states(world(3))
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        flight_repo.search_latest(FlightFilter(), first=10, after=bad)


def test_tracks_are_ordered_by_time_within_the_range(flight_repo: FlightRepository) -> None:
    times = [T0 + i * MINUTE for i in (5, 0, 3, 9, 1)]
    flight_repo.put_states([make_state("abc123", t, latitude=t.minute / 10) for t in times])
    flight_repo.put_states([make_state("def456", T0 + 2 * MINUTE)])
    found = flight_repo.tracks(["abc123", "def456", "ffffff"], T0 + MINUTE, T0 + 5 * MINUTE)
    assert [s.time for s in found["abc123"]] == [T0 + i * MINUTE for i in (1, 3, 5)]
    assert [s.time for s in found["def456"]] == [T0 + 2 * MINUTE]
    assert found["ffffff"] == []
    assert flight_repo.tracks([], T0, T0 + MINUTE) == {}


def test_track_keeps_history_older_than_latest(flight_repo: FlightRepository) -> None:
    flight_repo.put_states([make_state("abc123", T0 + MINUTE)])
    flight_repo.put_states([make_state("abc123", T0)])
    track = flight_repo.tracks(["abc123"], T0, T0 + MINUTE)["abc123"]
    assert [s.time for s in track] == [T0, T0 + MINUTE]


def test_by_region_hour(flight_repo: FlightRepository) -> None:
    hour = datetime(2024, 6, 1, 12, tzinfo=T0.tzinfo)
    paris = [make_state("000001", hour + i * 20 * MINUTE) for i in range(3)]  # 12:00-12:40
    later = make_state("000001", hour + 61 * MINUTE)
    tokyo = make_state("000002", hour + MINUTE, latitude=35.5, longitude=139.8)
    flight_repo.put_states([*paris, later, tokyo])
    found = flight_repo.by_region_hour("europe", hour + 30 * MINUTE)
    assert [s.time for s in found] == [s.time for s in paris]
    assert codes(flight_repo.by_region_hour("asia", hour)) == ["000002"]
    assert flight_repo.by_region_hour("africa", hour) == []


def test_newest_contact(flight_repo: FlightRepository) -> None:
    assert flight_repo.newest_contact() is None
    flight_repo.put_states(world(5))
    assert flight_repo.newest_contact() == T0 + timedelta(seconds=4)


def test_prune_removes_old_history(flight_repo: FlightRepository) -> None:
    flight_repo.put_states([make_state("abc123", T0 + i * MINUTE) for i in range(10)])
    flight_repo.put_states([make_state("def456", T0)])
    removed = flight_repo.prune(T0 + 5 * MINUTE)
    assert removed == 6
    track = flight_repo.tracks(["abc123"], T0, T0 + 10 * MINUTE)["abc123"]
    assert [s.time for s in track] == [T0 + i * MINUTE for i in range(5, 10)]
    assert flight_repo.latest("abc123") is not None
    assert flight_repo.latest("def456") is None  # its last contact is older than the cutoff
    assert flight_repo.prune(T0 + 5 * MINUTE) == 0


def test_data_survives_reopening_the_store(open_backend: Callable[[], Stores]) -> None:
    stores = open_backend()
    states = world(8)
    stores.flights.put_states(states)
    stores.close()
    reopened = open_backend()
    assert same_state(reopened.flights.latest("000007"), states[7])
    assert len(search(reopened.flights)) == 8
    assert reopened.flights.put_states(states).duplicates == 8
