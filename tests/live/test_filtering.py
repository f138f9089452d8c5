"""Which states a subscriber gets from a cycle, and which aircraft it is told left."""

from __future__ import annotations

import asyncio
import contextlib
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import BoundingBox, FlightState
from ingestion.replay import ReplaySource, load_snapshot
from ingestion.validate import validate
from live.channel import InProcessBroadcaster
from live.cycle_update import CycleUpdate
from live.filtering import AircraftNumbers, LiveView, StateIndex, UpdateFilter, View
from live.subscribers import UpdateHub
from testkit import T0, make_state


@pytest.fixture(scope="module")
def snapshot() -> list[FlightState]:
    source = ReplaySource(load_snapshot())
    normalised = source.normalise(source.advance())
    states, _ = validate(normalised.candidates, observed_at=normalised.observed_at)
    return states


boxes = st.builds(
    lambda s, n, w, e: (min(s, n), w, max(s, n), e),
    st.floats(-90, 90),
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.floats(-180, 180),
)


@settings(max_examples=200, deadline=None)
@given(box=boxes)
def test_the_cell_index_finds_exactly_the_states_in_a_box(
    snapshot: list[FlightState], box: tuple[float, float, float, float]
) -> None:
    bbox = BoundingBox(*box)
    index = StateIndex(snapshot)
    expected = {
        s.icao24
        for s in snapshot
        if s.latitude is not None
        and s.longitude is not None
        and bbox.contains(s.latitude, s.longitude)
    }
    found = [s.icao24 for s in index.in_box(bbox)]
    assert len(found) == len(set(found))
    assert set(found) == expected


@settings(max_examples=100, deadline=None)
@given(box=boxes)
def test_a_box_selection_s_codes_states_and_shown_items_agree(
    snapshot: list[FlightState], box: tuple[float, float, float, float]
) -> None:
    """A box selection gathers only runs of rows and their set of aircraft; its codes,
    states and what ``present`` made of them are taken from the runs when read, in the
    same order."""
    index = StateIndex(snapshot, present=lambda s: ("shown", s.icao24))
    selection = index.select(UpdateFilter(bbox=BoundingBox(*box)))
    assert index.numbers.codes(selection.bits) == sorted(selection.codes)
    assert [s.icao24 for s in selection.states] == selection.codes
    assert list(selection.shown) == [("shown", code) for code in selection.codes]
    assert len(selection.shown) == len(selection.codes)
    assert selection.shown == [("shown", code) for code in selection.codes]
    if selection.codes:
        assert selection.shown[-1] == ("shown", selection.codes[-1])


def test_a_box_across_the_antimeridian(snapshot: list[FlightState]) -> None:
    pacific = BoundingBox(-60, 170, 70, -170)
    found = StateIndex(snapshot).in_box(pacific)
    assert found, "the snapshot has aircraft over the Pacific"
    assert all(s.longitude is not None and abs(s.longitude) >= 170 for s in found)


def test_aircraft_numbers_make_sets_of_aircraft_and_are_given_to_new_ones() -> None:
    numbers = AircraftNumbers()
    both = numbers.bits(["bbbbbb", "aaaaaa"])
    assert numbers.codes(both) == ["aaaaaa", "bbbbbb"]
    assert numbers.known(["aaaaaa", "cccccc"]) == numbers.bits(["aaaaaa"])
    assert len(numbers) == 2  # known() numbers nobody
    numbers.release(["bbbbbb", "dddddd"])
    assert numbers.bits(["cccccc"]) == both & ~numbers.bits(["aaaaaa"])  # bbbbbb's number
    assert numbers.codes(both) == ["aaaaaa", "cccccc"]
    assert numbers.bits(["bbbbbb"]) not in (numbers.bits(["aaaaaa"]), numbers.bits(["cccccc"]))


def test_an_aircraft_listed_twice_is_selected_once_by_its_last_state() -> None:
    early = make_state("aaaaaa", time=T0, latitude=48.0, longitude=2.0)
    late = make_state("aaaaaa", time=T0 + timedelta(seconds=5), latitude=48.5, longitude=2.1)
    other = make_state("bbbbbb", latitude=48.2, longitude=2.05)
    index = StateIndex([early, other, late])
    europe = UpdateFilter(bbox=BoundingBox(45, 0, 50, 5))
    for flt, expected in ((europe, [other, late]), (UpdateFilter(), [late, other])):
        selection = index.select(flt)
        assert selection.states == expected
        assert index.numbers.codes(selection.bits) == ["aaaaaa", "bbbbbb"]


def test_an_icao24_filter_selects_those_aircraft_and_the_box_narrows_it() -> None:
    a = make_state("aaaaaa", latitude=48.0, longitude=2.0)
    b = make_state("bbbbbb", latitude=10.0, longitude=2.0)
    index = StateIndex([a, b, make_state("cccccc", latitude=48.0, longitude=2.0)])
    both = UpdateFilter(icao24=frozenset({"aaaaaa", "bbbbbb", "dddddd"}))
    assert {s.icao24 for s in both.select(index)} == {"aaaaaa", "bbbbbb"}
    europe = UpdateFilter(bbox=BoundingBox(35, -10, 70, 30), icao24=frozenset({"aaaaaa", "bbbbbb"}))
    assert [s.icao24 for s in europe.select(index)] == ["aaaaaa"]
    assert len(UpdateFilter().select(index)) == 3


def test_the_view_reports_aircraft_that_moved_out_or_went_stale() -> None:
    box = BoundingBox(45, 0, 55, 15)
    view = View(UpdateFilter(bbox=box))
    inside = [
        make_state("aaaaaa", time=T0, latitude=50.0, longitude=5.0),
        make_state("bbbbbb", time=T0, latitude=51.0, longitude=6.0),
        make_state("cccccc", time=T0, latitude=52.0, longitude=7.0),
    ]
    outside = make_state("dddddd", time=T0, latitude=10.0, longitude=5.0)
    first = view.reset(StateIndex([*inside, outside]))
    assert {s.icao24 for s in first.states} == {"aaaaaa", "bbbbbb", "cccccc"}
    assert first.shown == first.states  # an index without ``present`` shows the states

    t1 = T0 + timedelta(seconds=30)
    cycle = StateIndex(
        [
            make_state("aaaaaa", time=t1, latitude=50.1, longitude=5.1),  # still inside
            make_state("bbbbbb", time=t1, latitude=60.0, longitude=6.0),  # flew out
            make_state("eeeeee", time=t1, latitude=46.0, longitude=1.0),  # came in
            make_state("dddddd", time=t1, latitude=11.0, longitude=5.0),  # never inside
        ]
    )
    matched, removed = view.apply(cycle, stale_before=None)
    assert sorted(s.icao24 for s in matched.states) == ["aaaaaa", "eeeeee"]
    assert removed == ["bbbbbb"]
    assert set(view.inside) == {"aaaaaa", "cccccc", "eeeeee"}

    # cccccc has not been heard from since T0: stale once the cutoff passes it.
    matched, removed = view.apply(StateIndex([]), stale_before=T0 + timedelta(seconds=1))
    assert matched.states == []
    assert removed == ["cccccc"]
    assert set(view.inside) == {"aaaaaa", "eeeeee"}


def test_an_aircraft_that_lost_its_position_leaves_a_box_view() -> None:
    view = View(UpdateFilter(bbox=BoundingBox(45, 0, 55, 15)))
    view.reset(StateIndex([make_state("aaaaaa", latitude=50.0, longitude=5.0)]))
    lost = make_state("aaaaaa", time=T0 + timedelta(seconds=5), latitude=None, longitude=None)
    matched, removed = view.apply(StateIndex([lost]), stale_before=None)
    assert (matched.states, removed) == ([], ["aaaaaa"])


def test_a_live_view_reports_aircraft_that_moved_out_or_went_stale() -> None:
    view = LiveView(UpdateFilter(bbox=BoundingBox(45, 0, 55, 15)))
    view.reset(
        StateIndex(
            [
                make_state("aaaaaa", latitude=50.0, longitude=5.0),
                make_state("bbbbbb", latitude=51.0, longitude=6.0),
                make_state("cccccc", latitude=52.0, longitude=7.0),
            ]
        )
    )
    t1 = T0 + timedelta(seconds=30)
    cycle = StateIndex(
        [
            make_state("aaaaaa", time=t1, latitude=50.1, longitude=5.1),  # still inside
            make_state("bbbbbb", time=t1, latitude=60.0, longitude=6.0),  # flew out
            make_state("eeeeee", time=t1, latitude=46.0, longitude=1.0),  # came in
        ]
    )
    matched, removed = view.apply(cycle, dropped=frozenset())
    assert (sorted(matched.codes), removed) == (["aaaaaa", "eeeeee"], ["bbbbbb"])
    assert view.codes() == ["aaaaaa", "cccccc", "eeeeee"]  # cccccc: not heard, still inside
    # The hub dropped cccccc (stale) and ffffff (never inside).
    matched, removed = view.apply(StateIndex([]), dropped=frozenset({"cccccc", "ffffff"}))
    assert (matched.states, removed) == ([], ["cccccc"])
    assert view.codes() == ["aaaaaa", "eeeeee"]
    lost = make_state("aaaaaa", time=t1, latitude=None, longitude=None)
    assert view.apply(StateIndex([lost]), dropped=frozenset())[1] == ["aaaaaa"]


@pytest.mark.parametrize("seed", range(5))
def test_a_hubs_live_views_tell_what_stored_views_tell(seed: int) -> None:
    """Subscribers of a hub (``LiveView``, told what went stale) are sent the same flights
    and told the same aircraft left as views that keep last contacts (``View``)."""
    assert asyncio.run(_compare_views(random.Random(seed))) > 100  # aircraft did leave


async def _compare_views(rng: random.Random) -> int:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=45)
    filters = [
        UpdateFilter(bbox=BoundingBox(s, w, s + rng.uniform(5, 40), w + rng.uniform(5, 60)))
        for s, w in ((rng.uniform(-60, 40), rng.uniform(-170, 100)) for _ in range(20))
    ]
    stored = [View(f) for f in filters]
    told = 0
    with contextlib.ExitStack() as stack:
        subs = [stack.enter_context(hub.subscribe(f)) for f in filters]
        for n in range(12):
            at = T0 + timedelta(seconds=20 * n)
            states = [
                make_state(
                    f"{i:06x}",
                    time=at,
                    latitude=rng.uniform(-60, 70) if rng.random() > 0.05 else None,
                    longitude=rng.uniform(-170, 170),
                )
                for i in range(300)
                if rng.random() > 0.3  # not heard from this cycle
            ]
            hub.dispatch(CycleUpdate(f"cycle-{n}", at, states))
            index = StateIndex(states)
            for sub, view in zip(subs, stored, strict=True):
                batch = await sub.next()
                matched, removed = view.apply(index, hub.stale_before())
                assert [s.icao24 for s in batch.flights] == matched.codes
                assert sorted(batch.removed) == sorted(removed)
                assert set(sub.view.codes()) == view.inside.keys()
                told += len(removed)
    return told
