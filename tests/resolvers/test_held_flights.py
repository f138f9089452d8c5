"""``flights`` from the states the API's live-update hub holds: read from them (not the
store) when they are as new as the store, with the store's answer; while the store holds
a newer cycle than the hub has taken, from the hub's previous cycle for ``HELD_LAG_S``,
then from the store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from config import Settings
from domain import FlightState
from live import subscribers
from live.channel import InProcessBroadcaster
from live.cycle_update import CycleUpdate
from live.subscribers import UpdateHub
from resolvers.root import build_schema
from resolvers.subscriptions import shared_flight
from runtime.stores import open_stores
from schema.context import Context, make_loaders
from storage.base import FlightFilter
from storage.sqlite import SqliteFlightRepository
from storage.stores import Stores
from testkit import T0, make_state

QUERY = """query ($bbox: BoundingBoxInput, $after: String) {
  flights(bbox: $bbox, first: 7, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { icao24 callsign latitude longitude lastContact } }
  }
}"""
EUROPE = {"south": 35.0, "west": -10.0, "north": 60.0, "east": 30.0}


def _states(cycle: int) -> list[FlightState]:
    return [
        make_state(
            f"{i * 7919 % 65536:06x}",
            T0 + timedelta(seconds=10 * cycle + i % 3),
            latitude=30.0 + i,
            longitude=-20.0 + 2 * i + cycle / 10,
        )
        for i in range(25)
    ]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[Stores]:
    with open_stores(Settings.from_env({}, data_dir=tmp_path)) as opened:
        yield opened


@pytest.fixture
def store_searches(monkeypatch: pytest.MonkeyPatch) -> list[FlightFilter]:
    """The flights searches the store answered, from now on."""
    searched: list[FlightFilter] = []
    search = SqliteFlightRepository.search_latest

    def counted(self: SqliteFlightRepository, flt: FlightFilter, **kwargs: Any) -> Any:
        searched.append(flt)
        return search(self, flt, **kwargs)

    monkeypatch.setattr(SqliteFlightRepository, "search_latest", counted)
    return searched


def _pages(stores: Stores, hub: UpdateHub | None, bbox: Any) -> list[dict[str, Any]]:
    """Every page of ``QUERY``, following the cursors."""
    settings = Settings.from_env({})
    schema = build_schema()
    pages: list[dict[str, Any]] = []
    after = None
    while True:
        context = Context(
            stores=stores, settings=settings, loaders=make_loaders(stores, settings), hub=hub
        )
        result = asyncio.run(
            schema.execute(QUERY, {"bbox": bbox, "after": after}, context_value=context)
        )
        assert result.errors is None, result.errors
        assert result.data is not None
        page = result.data["flights"]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            return pages
        after = page["pageInfo"]["endCursor"]


def _hub(stores: Stores) -> UpdateHub:
    """A hub that has loaded the store's live states."""
    hub = UpdateHub(
        InProcessBroadcaster(),
        live_window_s=60,
        load_current=lambda: stores.flights.all_latest(FlightFilter()),
        present=shared_flight,
    )

    async def load() -> None:
        hub._subscribed()  # the channel's first subscription: the hub reads the store
        await asyncio.wait_for(hub.ready.wait(), 5)

    asyncio.run(load())
    return hub


@pytest.mark.parametrize("bbox", [None, EUROPE])
def test_pages_come_from_the_hub_when_it_is_as_new_as_the_store(
    stores: Stores, store_searches: list[FlightFilter], bbox: Any
) -> None:
    stores.flights.put_states(_states(0))
    stores.flights.put_states(_states(1))
    hub = _hub(stores)
    held = _pages(stores, hub, bbox)
    assert store_searches == []
    assert len(held) > 1
    assert held == _pages(stores, None, bbox)
    assert len(store_searches) == len(held)


def test_a_newer_cycle_in_the_store_is_read_from_the_hub_once_it_takes_it(
    stores: Stores, store_searches: list[FlightFilter], monkeypatch: pytest.MonkeyPatch
) -> None:
    stores.flights.put_states(_states(0))
    hub = _hub(stores)
    before = _pages(stores, hub, None)
    assert store_searches == []

    newer = _states(1)
    stores.flights.put_states(newer)  # stored; not yet published to the hub
    assert _pages(stores, hub, None) == before  # the hub's cycle, while it takes the next
    assert store_searches == []

    monkeypatch.setattr(subscribers, "HELD_LAG_S", 0.0)  # the hub takes too long
    from_store = _pages(stores, hub, None)
    assert len(store_searches) == len(from_store)
    assert from_store != before
    assert from_store == _pages(stores, None, None)

    hub.dispatch(CycleUpdate("cycle-1", newer[0].last_contact, newer))
    searched = len(store_searches)
    assert _pages(stores, hub, None) == from_store
    assert len(store_searches) == searched
