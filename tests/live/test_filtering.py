"""Which states a subscriber gets from a cycle, and which aircraft it is told left."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import BoundingBox, FlightState
from ingestion.replay import ReplaySource, load_snapshot
from ingestion.validate import validate
from live.filtering import StateIndex, UpdateFilter, View
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


def test_a_box_across_the_antimeridian(snapshot: list[FlightState]) -> None:
    pacific = BoundingBox(-60, 170, 70, -170)
    found = StateIndex(snapshot).in_box(pacific)
    assert found, "the snapshot has aircraft over the Pacific"
    assert all(s.longitude is not None and abs(s.longitude) >= 170 for s in found)


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
