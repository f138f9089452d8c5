"""Parquet of stored states: staged with the cycle in SQLite, written once, whatever stops
a flush halfway."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from storage import processed
from storage.base import StoreUnavailable
from storage.processed import LocalSink, ProcessedWriter
from storage.sqlite import SqliteDatabase, SqliteFlightRepository, SqliteProcessedStaging
from testkit import T0, make_state


class Interrupted(Exception):
    pass


class FailingSink(LocalSink):
    """Writes ``allowed`` files, then fails as a crash mid-flush would stop it."""

    def __init__(self, root: Path, allowed: int) -> None:
        super().__init__(root)
        self.allowed = allowed

    def write(self, key: str, data: bytes) -> None:
        if self.allowed == 0:
            raise Interrupted(key)
        self.allowed -= 1
        super().write(key, data)


@pytest.fixture
def db(tmp_path: Path) -> SqliteDatabase:
    return SqliteDatabase(tmp_path / "db.sqlite3")


def rows(root: Path) -> list[tuple[str, object]]:
    found = []
    for path in sorted(root.glob("processed/**/part-*.parquet")):
        found += [(r["icao24"], r["time"]) for r in pq.read_table(path).to_pylist()]
    return sorted(found)


def stored_in_one_transaction(db: SqliteDatabase, writer: ProcessedWriter, days: int) -> None:
    flights = SqliteFlightRepository(db)
    states = [make_state(f"{i:06x}", T0 + timedelta(days=i % days)) for i in range(10)]
    with db.transaction():
        result = flights.put_states(states)
        assert result.new is not None
        writer.add(result.new)


def test_a_flush_cut_short_is_done_again_under_the_same_names(
    db: SqliteDatabase, tmp_path: Path
) -> None:
    staging = SqliteProcessedStaging(db)
    # Three days: three partitions, three files per flush.
    stored_in_one_transaction(db, ProcessedWriter(LocalSink(tmp_path), staging=staging), 3)
    with pytest.raises(Interrupted):
        ProcessedWriter(FailingSink(tmp_path, allowed=1), staging=staging).flush()
    assert staging.pending() == 10

    keys = ProcessedWriter(LocalSink(tmp_path), staging=staging).flush()

    assert len(keys) == 3
    assert len(rows(tmp_path)) == 10
    assert len(set(rows(tmp_path))) == 10
    assert staging.pending() == 0
    assert ProcessedWriter(LocalSink(tmp_path), staging=staging).flush() == []


def test_states_of_a_rolled_back_cycle_are_not_staged(db: SqliteDatabase, tmp_path: Path) -> None:
    staging = SqliteProcessedStaging(db)
    writer = ProcessedWriter(LocalSink(tmp_path), staging=staging)

    def cycle() -> None:
        with db.transaction():
            stored_in_one_transaction(db, writer, 1)
            raise StoreUnavailable("the cycle's report could not be written")

    with pytest.raises(StoreUnavailable):
        cycle()
    assert staging.pending() == 0
    assert writer.flush() == []
    assert db.scalar("SELECT count(*) FROM states") == 0


def test_a_transaction_inside_another_joins_it(db: SqliteDatabase) -> None:
    flights = SqliteFlightRepository(db)

    def unit_of_work() -> None:
        with db.transaction():
            flights.put_states([make_state("aaaaaa", T0)])  # its own transaction, nested
            raise RuntimeError("the outer unit of work fails")

    with pytest.raises(RuntimeError):
        unit_of_work()
    assert flights.latest("aaaaaa") is None
    flights.put_states([make_state("aaaaaa", T0)])
    assert flights.latest("aaaaaa") is not None


def test_a_claim_is_read_in_pages_and_written_whole(db: SqliteDatabase, tmp_path: Path) -> None:
    staging = SqliteProcessedStaging(db)
    flights = SqliteFlightRepository(db)
    states = [
        make_state(f"{i:06x}", T0 + timedelta(seconds=10 * n, days=i % 2))
        for i in range(7)
        for n in range(3)
    ]
    with db.transaction():
        result = flights.put_states(states)
        assert result.new is not None
        staging.stage(result.new)
    flush_id = staging.claim()
    assert flush_id is not None

    pages = list(staging.claimed(flush_id, page=4))

    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 1]
    read = [(s.icao24, s.time) for page in pages for s in page]
    assert read == sorted((s.icao24, s.time) for s in states)
    keys = ProcessedWriter(LocalSink(tmp_path), staging=staging).flush()
    assert len(keys) == 2  # one file per day
    assert rows(tmp_path) == sorted((s.icao24, s.time) for s in states)


def test_a_partition_is_written_a_row_group_at_a_time(
    db: SqliteDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processed, "ROW_GROUP", 5)
    staging = SqliteProcessedStaging(db)
    states = [make_state(f"{i:06x}", T0 + timedelta(seconds=n)) for i in range(6) for n in range(2)]
    with db.transaction():
        result = SqliteFlightRepository(db).put_states(states)
        assert result.new is not None
        staging.stage(result.new)
    flush_id = staging.claim()
    assert flush_id is not None

    (key,) = ProcessedWriter(LocalSink(tmp_path), staging=staging)._write_pages(
        staging.claimed(flush_id, page=3), "f"
    )

    file = pq.ParquetFile(tmp_path / key)
    # A group is written once 5 rows wait: pages of 3 make groups of 6, 6, and none left.
    assert [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)] == [6, 6]
    assert rows(tmp_path) == sorted((s.icao24, s.time) for s in states)


def test_to_parquet_writes_row_groups_of_a_bounded_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processed, "ROW_GROUP", 4)
    states = [make_state(f"{i:06x}", T0) for i in range(10)]

    file = pq.ParquetFile(io.BytesIO(processed.to_parquet(states)))

    assert [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)] == [4, 4, 2]
    assert file.read().column("icao24").to_pylist() == [s.icao24 for s in states]
