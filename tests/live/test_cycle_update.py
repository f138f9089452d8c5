"""The cycle update's wire format: what one process publishes, another reads back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain import FlightPhase
from live.cycle_update import CycleUpdate
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
