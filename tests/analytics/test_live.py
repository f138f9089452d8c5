"""The live snapshot is read again when a cycle stored newer states, and reused until then."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pyarrow as pa

from analytics.live import COLUMNS, LiveSnapshots, states_table
from config import Settings
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
