"""``HeldStates`` against SQLite: the replay snapshot in both, every search the same page
(items, cursors, totalCount, hasNextPage)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from domain import BoundingBox, FlightState, InvalidArgument
from storage import cursor
from storage.base import FlightFilter, Page
from storage.held import HeldStates
from storage.sqlite import SqliteFlightRepository
from testkit import make_state, replay_in_sqlite


@pytest.fixture(scope="module")
def replayed(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SqliteFlightRepository, HeldStates]]:
    """The replay snapshot, validated, in SQLite, and held as read back from it (as the
    API's hub holds them)."""
    _, db, sqlite = replay_in_sqlite(tmp_path_factory.mktemp("held"))
    newest = sqlite.newest_contact()
    assert newest is not None
    stored = sqlite.all_latest(FlightFilter())
    # Shuffled: held states come in any order.
    yield sqlite, HeldStates(newest, random.Random(7).sample(stored, len(stored)))
    db.close()


def dump(page: Page[FlightState]) -> tuple[object, ...]:
    return [s.model_dump() for s in page.items], page.cursors, page.total_count, page.has_next_page


BOXES = [
    BoundingBox(35, -10, 60, 30),
    BoundingBox(50, 0, 52, 5),
    BoundingBox(-90, -180, 90, 180),
    BoundingBox(-60, 150, 70, -120),  # across the antimeridian
    BoundingBox(-10, 179.5, 80, -179.5),
    BoundingBox(-80, 10, 80, 9),  # almost the world, across
    BoundingBox(48.0, 11.0, 48.0, 11.0),  # a point
    BoundingBox(0, -180, 70, -170),
]


@pytest.mark.parametrize("box", BOXES, ids=str)
def test_boxes_equal_sqlite(
    replayed: tuple[SqliteFlightRepository, HeldStates], box: BoundingBox
) -> None:
    sqlite, held = replayed
    flt = FlightFilter(bbox=box)
    expected = sqlite.search_latest(flt, first=10_000)
    assert dump(held.search(flt, first=10_000)) == dump(expected)


def test_random_filters_and_pages_equal_sqlite(
    replayed: tuple[SqliteFlightRepository, HeldStates],
) -> None:
    sqlite, held = replayed
    newest = held.newest
    rnd = random.Random(20261206)
    countries = ["united states", "Germany", "FRANCE", "Nowhere"]
    prefixes = ["dlh", "RYR_", "  ", "u", "%", "BAW1"]
    compared = 0
    for _ in range(150):
        bbox = None
        if rnd.random() < 0.6:
            south = rnd.uniform(-90, 89)
            north = min(90.0, south + rnd.choice([0.5, 5, 20, 60, 180]))
            bbox = BoundingBox(south, rnd.uniform(-180, 180), north, rnd.uniform(-180, 180))
        flt = FlightFilter(
            bbox=bbox,
            callsign_prefix=rnd.choice([None, None, *prefixes]),
            origin_country=rnd.choice([None, None, *countries]),
            on_ground=rnd.choice([None, None, True, False]),
            since=rnd.choice([None, newest - timedelta(seconds=rnd.choice([1, 10, 300]))]),
        )
        first = rnd.choice([1, 7, 50, 500])
        after = None
        for _ in range(3):  # up to three pages, through the cursors
            page = held.search(flt, first=first, after=after)
            assert dump(page) == dump(sqlite.search_latest(flt, first=first, after=after)), flt
            compared += len(page.items)
            if not page.has_next_page:
                break
            after = page.end_cursor
    assert compared > 5_000


def test_a_cursor_of_the_store_continues_a_held_search(
    replayed: tuple[SqliteFlightRepository, HeldStates],
) -> None:
    sqlite, held = replayed
    flt = FlightFilter(bbox=BOXES[3])
    after = sqlite.search_latest(flt, first=7).end_cursor
    assert after is not None
    assert dump(held.search(flt, first=5, after=after)) == dump(
        sqlite.search_latest(flt, first=5, after=after)
    )


@pytest.mark.parametrize(
    "bad", ["nope", cursor.encode("airports", "abc123"), cursor.encode("flights", 42)]
)
def test_bad_cursors_are_invalid_arguments(
    replayed: tuple[SqliteFlightRepository, HeldStates], bad: str
) -> None:
    _, held = replayed
    with pytest.raises(InvalidArgument):
        held.search(FlightFilter(), first=10, after=bad)


def test_each_state_is_presented_once() -> None:
    states = [make_state("aaaaaa"), make_state("bbbbbb")]
    made: list[str] = []

    def present(state: FlightState) -> str:
        made.append(state.icao24)
        return f"shown {state.icao24}"

    held = HeldStates(states[0].last_contact, states, present)
    assert held.shown(states[::-1]) == ["shown bbbbbb", "shown aaaaaa"]
    assert held.shown(states) == ["shown aaaaaa", "shown bbbbbb"]
    assert made == ["bbbbbb", "aaaaaa"]
    assert HeldStates(states[0].last_contact, states).shown(states) == states


def test_a_search_asked_again_gets_the_same_page(
    replayed: tuple[SqliteFlightRepository, HeldStates],
) -> None:
    _, held = replayed
    flt = FlightFilter(bbox=BOXES[0], on_ground=False)
    page = held.search(flt, first=5)
    assert held.search(FlightFilter(bbox=BOXES[0], on_ground=False), first=5) is page
    assert held.search(flt, first=6) is not page
    assert held.search(flt, first=5, after=page.end_cursor) is not page
