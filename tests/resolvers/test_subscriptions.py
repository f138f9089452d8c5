"""trackUpdates across a gap: positions a subscriber missed (batches dropped for a slow
client, or a resync after the channel lost updates) are read from the stored track and sent
in order, so a track never silently skips a position."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from domain import FlightState
from live.channel import InProcessBroadcaster
from live.cycle_update import CycleUpdate
from live.subscribers import UpdateHub
from resolvers.root import build_schema
from resolvers.subscriptions import shared_flight
from runtime.stores import open_stores
from schema.context import Context, make_loaders
from storage.stores import Stores
from testkit import T0, make_state

TRACK = 'subscription { trackUpdates(icao24: "abc123") { time latitude } }'


def _track(n: int) -> list[FlightState]:
    return [
        make_state(time=T0 + timedelta(seconds=10 * i), latitude=48.0 + i / 100) for i in range(n)
    ]


async def _subscribe(stores: Stores, hub: UpdateHub) -> AsyncGenerator[Any, None]:
    settings = Settings.from_env({})
    context = Context(
        stores=stores, settings=settings, loaders=make_loaders(stores, settings), hub=hub
    )
    stream = await build_schema().subscribe(TRACK, context_value=context)
    assert isinstance(stream, AsyncGenerator)
    return stream


async def _times(stream: AsyncGenerator[Any, None], n: int) -> list[str]:
    times = []
    for _ in range(n):
        result = await asyncio.wait_for(anext(stream), 5)
        assert not result.errors, result.errors
        times.append(result.data["trackUpdates"]["time"])
    return times


@pytest.fixture
def stores(tmp_path: Path) -> Any:
    with open_stores(Settings.from_env({}, data_dir=tmp_path)) as opened:
        yield opened


def iso(state: FlightState) -> str:
    return state.time.isoformat()


def test_positions_in_dropped_batches_come_from_the_stored_track(stores: Stores) -> None:
    track = _track(4)

    async def run() -> list[str]:
        stores.flights.put_states(track[:1])
        hub = UpdateHub(
            InProcessBroadcaster(), live_window_s=1e9, queue_size=1, present=shared_flight
        )
        hub.ready.set()
        stream = await _subscribe(stores, hub)
        first = await _times(stream, 1)
        # Three cycles while the client reads nothing: its queue of one keeps the last.
        for i, state in enumerate(track[1:], start=1):
            stores.flights.put_states([state])
            hub.dispatch(CycleUpdate(f"cycle-{i}", state.time, [state]))
        rest = await _times(stream, 3)
        await stream.aclose()
        return first + rest

    assert asyncio.run(run()) == [iso(s) for s in track]


def test_positions_published_while_updates_were_lost_come_after_a_resync(
    stores: Stores,
) -> None:
    track = _track(3)

    async def run() -> list[str]:
        stores.flights.put_states(track[:1])
        hub = UpdateHub(InProcessBroadcaster(), live_window_s=1e9, present=shared_flight)
        hub.ready.set()
        stream = await _subscribe(stores, hub)
        first = await _times(stream, 1)
        hub._subscribed()  # the channel's first subscription
        stores.flights.put_states(track[1:])  # stored, but never published to this process
        hub._subscribed()  # ... it resubscribed: updates may have been lost
        rest = await _times(stream, 2)
        await stream.aclose()
        return first + rest

    assert asyncio.run(run()) == [iso(s) for s in track]
