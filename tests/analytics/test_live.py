"""The live snapshot is read again when a cycle stored newer states, and reused until then."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from analytics.live import COLUMNS, LiveSnapshots, states_table
from config import Settings
from live import subscribers
from live.channel import InProcessBroadcaster, live_states_of
from live.cycle_update import CycleUpdate
from live.subscribers import UpdateHub
from runtime.stores import open_stores
from storage.processed import SCHEMA
from testkit import T0, make_state


def test_a_snapshot_is_reused_until_the_newest_contact_moves(tmp_path: Path) -> None:
    with open_stores(Settings.from_env({}, data_dir=tmp_path)) as stores:
        stores.flights.put_states([make_state("aaa111"), make_state("bbb222")])
        snapshots = LiveSnapshots(stores.flights, live_window_s=300)
        first = snapshots.get()
        assert snapshots.get() is first
        assert (first.total, first.as_of) == (2, T0)

        later = T0 + timedelta(seconds=5)
        stores.flights.put_states([make_state("aaa111", later), make_state("ccc333", later)])
        second = snapshots.get()
    assert (second.total, second.as_of) == (3, later)
    assert sorted(s.icao24 for s in second.states) == ["aaa111", "bbb222", "ccc333"]


def test_a_snapshot_older_than_its_age_is_read_again(tmp_path: Path) -> None:
    with open_stores(Settings.from_env({}, data_dir=tmp_path)) as stores:
        stores.flights.put_states([make_state("aaa111")])
        snapshots = LiveSnapshots(stores.flights, live_window_s=300, max_age_s=0)
        assert snapshots.get() is not snapshots.get()


def test_the_live_columns_are_typed_as_the_parquet_types_them() -> None:
    duckdb_types = {
        pa.string(): "VARCHAR",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.timestamp("us", tz="UTC"): "TIMESTAMPTZ",
    }
    assert {name: duckdb_types[SCHEMA.field(name).type] for name in COLUMNS} == COLUMNS


def test_an_empty_snapshot_holds_no_states(tmp_path: Path) -> None:
    with open_stores(Settings.from_env({}, data_dir=tmp_path)) as stores:
        empty = LiveSnapshots(stores.flights, live_window_s=300).get()
    assert (empty.total, empty.states) == (0, ())


def test_the_states_table_holds_the_states_as_the_sql_reads_them() -> None:
    table = states_table([make_state("aaa111"), make_state("bbb222", region="oceans")])
    assert (table.num_rows, sorted(table.column("icao24"))) == (2, ["aaa111", "bbb222"])
    assert sorted(table.column("region"), key=str) == [None, "oceans"]
    assert table.column("day") == ["01", "01"]


def test_a_snapshot_follows_the_hub_while_it_takes_the_stores_cycles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made of the states the hub holds (the same objects, in the store's order) when the
    hub has every state of the store's newest contact; of the hub's previous cycle while
    it takes a newer one, for ``HELD_LAG_S``; read from the store when it lags longer."""

    async def run() -> None:
        with open_stores(Settings.from_env({}, data_dir=tmp_path)) as stores:
            stores.flights.put_states([make_state("bbb222"), make_state("aaa111")])
            broadcaster = InProcessBroadcaster()
            hub = UpdateHub(
                broadcaster, live_window_s=300, load_current=live_states_of(stores, 300)
            )
            following = LiveSnapshots(stores.flights, live_window_s=300)
            following.follow(hub.held_for)
            reading = LiveSnapshots(stores.flights, live_window_s=300, max_age_s=0)

            async def cycle(at: datetime, code: str) -> None:
                stores.flights.put_states([make_state(code, at)])
                stored = stores.flights.latest(code)  # with the region the store derives
                assert stored is not None
                broadcaster.publish(CycleUpdate(f"cycle@{at:%H%M%S}", at, [stored]))
                async with asyncio.timeout(5):
                    while hub.newest != at:
                        await asyncio.sleep(0.01)
                made, held = following.get(), hub.held()
                assert held is not None
                assert made == reading.get()
                assert {id(s) for s in made.states} == {id(s) for s in held[1]}  # the hub's

            assert hub.held() is None  # nothing loaded yet
            task = asyncio.create_task(hub.run())
            try:
                await asyncio.wait_for(hub.ready.wait(), 5)
                await cycle(T0 + timedelta(seconds=5), "aaa111")
                # bbb222, last heard at T0, is dropped once the newest contact is 300 s on
                await cycle(T0 + timedelta(seconds=301), "ccc333")
                assert [s.icao24 for s in following.get().states] == ["aaa111", "ccc333"]
                taken = following.get()
                lagging = T0 + timedelta(seconds=310)
                stores.flights.put_states([make_state("ddd444", lagging)])  # not published
                assert following.get() is taken  # the hub's, while it takes the cycle
                monkeypatch.setattr(subscribers, "HELD_LAG_S", 0.0)  # it took too long
                found = following.get()
                assert found == reading.get()
                assert found.as_of == lagging
                assert "ddd444" in {s.icao24 for s in found.states}
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    asyncio.run(run())
