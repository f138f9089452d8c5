"""The cycle update's wire format: what one process publishes, another reads back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import FlightPhase
from live.cycle_update import Continuity, CycleUpdate, Numbering
from testkit import T0, make_state


def test_an_update_round_trips_through_its_wire_format() -> None:
    states = [
        make_state(
            "3c6444",
            callsign="DLH1A",
            latitude=50.1,
            longitude=8.6,
            baro_altitude_m=10_972.8,
            region="europe",
            phase=FlightPhase.CRUISE,
            nearest_airport_icao="EDDF",
            nearest_airport_km=3.25,
        ),
        make_state(
            "abc123",
            time=T0 + timedelta(seconds=7),
            latitude=None,
            longitude=None,
            region="unknown",
        ),
    ]
    update = CycleUpdate("replay@20240601T120000.000000Z", T0, states)
    back = CycleUpdate.decode(update.encode())
    assert back.cycle_id == update.cycle_id
    assert back.at == T0
    assert [s.model_dump() for s in back.states] == [s.model_dump() for s in states]
    assert back.newest_contact == T0 + timedelta(seconds=7)


def test_an_empty_cycle_is_an_update_too() -> None:
    back = CycleUpdate.decode(CycleUpdate("c", T0, []).encode())
    assert back.states == []
    assert back.newest_contact is None


@pytest.mark.parametrize(
    "message", [b"", b"not json", b'{"v": 2, "cycle_id": "c", "at": 0, "states": []}', b'{"v": 1}']
)
def test_a_message_that_is_not_an_update_is_a_value_error(message: bytes) -> None:
    with pytest.raises(ValueError, match="update"):
        CycleUpdate.decode(message)


def test_a_channel_numbers_its_updates_and_the_numbers_cross_the_wire() -> None:
    number, other = Numbering(), Numbering()
    first, second = number(CycleUpdate("a", T0, [])), number(CycleUpdate("b", T0, []))

    assert (first.seq, second.seq) == (0, 1)
    assert first.origin == second.origin != other(CycleUpdate("c", T0, [])).origin
    back = CycleUpdate.decode(second.encode())
    assert (back.origin, back.seq) == (second.origin, 1)


def test_an_update_from_before_the_numbering_reads_as_unnumbered() -> None:
    old = b'{"v": 1, "cycle_id": "c", "at": 0, "published_at": 0, "states": []}'
    back = CycleUpdate.decode(old)

    assert (back.origin, back.seq) == ("", 0)
    assert Continuity().follows(back)


def test_continuity_sees_a_skipped_number_and_a_new_publisher() -> None:
    number = Numbering()
    updates = [number(CycleUpdate(f"c{n}", T0, [])) for n in range(4)]
    continuity = Continuity()

    assert continuity.follows(updates[1])  # the first after subscribing starts the count
    assert continuity.follows(updates[2])
    restarted = Numbering()(CycleUpdate("r", T0, []))
    assert not continuity.follows(restarted)
    assert continuity.follows(updates[3])
    skipped = number(CycleUpdate("lost", T0, []))
    assert not continuity.follows(number(CycleUpdate("next", T0, [])))
    assert skipped.seq == 4

    continuity.restart()
    assert continuity.follows(number(CycleUpdate("after", T0, [])))
