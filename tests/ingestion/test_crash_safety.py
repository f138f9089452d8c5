"""Kill -9 at chosen points of an ingest cycle, restart, and check that every record is
accounted for once: each archived body has one cycle report, each report balances,
every stored state is in Parquet exactly once, and a reprocess writes nothing twice.

Each run is the real ``flightdata ingest --once`` in a subprocess (``crash_child.py``),
killed with SIGKILL where the point says; the next run starts on the same data directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from config import Settings
from domain.cycle import CycleReport
from ingestion.loop import IngestLoop
from ingestion.opensky import normalise_states
from ingestion.pipeline import Pipeline, RetryPolicy
from ingestion.rerun import reprocess
from ingestion.sources import FileSource
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from storage.base import CycleRepository, StoreUnavailable
from storage.processed import LocalSink, ProcessedWriter
from storage.stores import Stores
from testkit import FIXTURES

CHILD = Path(__file__).with_name("crash_child.py")
ROOT = Path(__file__).resolve().parents[2]
ALPS = orjson.loads((FIXTURES / "opensky_states_bbox_alps_79.json").read_bytes())


def recording(tmp_path: Path, step: int) -> Path:
    """The Alps snapshot ``10 * step`` seconds later: new states, the same rejects."""
    shift = 10 * step
    states = [
        [*s[:3], *(None if t is None else t + shift for t in s[3:5]), *s[5:]]
        for s in ALPS["states"]
    ]
    path = tmp_path / f"states-{step}.json"
    path.write_bytes(orjson.dumps({"time": ALPS["time"] + shift, "states": states}))
    return path


def run(data_dir: Path, point: str, path: Path) -> int:
    env = {**os.environ, "FLIGHTDATA_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, str(CHILD), point, str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if point == "none":
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return done.returncode


def table(db: Path, sql: str) -> list[Any]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def parquet_keys(data_dir: Path) -> Counter[tuple[str, Any]]:
    keys: Counter[tuple[str, Any]] = Counter()
    for path in sorted(data_dir.glob("processed/**/part-*.parquet")):
        rows = pq.read_table(path, columns=["icao24", "time"]).to_pylist()
        keys.update((r["icao24"], r["time"]) for r in rows)
    return keys


def check_accounting(data_dir: Path) -> None:
    db = data_dir / "flightdata.sqlite3"
    bodies = sorted(str(p.relative_to(data_dir)) for p in data_dir.glob("raw/**/flights-*.json.gz"))
    cycles = table(db, "SELECT archive_key, received, stored, rejected, duplicates FROM cycles")
    assert sorted(c[0] for c in cycles) == bodies, "each archived body has one cycle"
    for key, received, stored, rejected, duplicates in cycles:
        assert received == stored + rejected + duplicates, key
    [(states,)] = table(db, "SELECT count(*) FROM states")
    assert states == sum(c[2] for c in cycles)
    [(letters,)] = table(db, "SELECT count(*) FROM dead_letters")
    assert letters == sum(c[3] for c in cycles)
    assert table(db, "SELECT count(*) FROM processed_pending") == [(0,)]
    in_parquet = parquet_keys(data_dir)
    assert max(in_parquet.values()) == 1, "no state is in Parquet twice"
    assert len(in_parquet) == states


@pytest.mark.parametrize(
    "kills",
    [
        ["before_process"],
        ["after_states"],
        ["before_report"],
        ["before_parquet"],
        ["during_parquet"],
        ["after_states", "during_parquet", "before_report"],
    ],
    ids="+".join,
)
def test_a_killed_ingest_loses_nothing_and_counts_nothing_twice(
    tmp_path: Path, kills: list[str]
) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "none", recording(tmp_path, 0))
    for step, point in enumerate(kills, start=1):
        assert run(data_dir, point, recording(tmp_path, step)) == -signal.SIGKILL
    run(data_dir, "none", recording(tmp_path, len(kills) + 1))

    check_accounting(data_dir)
    [(stored,)] = table(data_dir / "flightdata.sqlite3", "SELECT count(*) FROM states")
    # Every body's new states (78 of the 79 records each; one is stale) were stored.
    assert stored == 78 * (len(kills) + 2)


def test_a_reprocess_after_a_crash_writes_no_state_twice(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    run(data_dir, "none", recording(tmp_path, 0))
    assert run(data_dir, "before_parquet", recording(tmp_path, 1)) == -signal.SIGKILL
    settings = Settings.from_env({}, data_dir=data_dir)
    now = datetime.now(UTC)
    with open_stores(settings) as stores:
        pipeline = build_pipeline(settings, stores, None)
        summary = reprocess(stores.archive, pipeline, now - timedelta(hours=1), now)
        assert pipeline.processed is not None
        pipeline.processed.flush()
    assert (summary.bodies, summary.stored, summary.duplicates) == (2, 0, 2 * 78)
    run(data_dir, "none", recording(tmp_path, 2))
    check_accounting(data_dir)


class UnwritableCycles:
    """Cycle reports that cannot be written, as when the store fails at the cycle's end."""

    def __init__(self, cycles: CycleRepository) -> None:
        self.cycles = cycles

    def put_cycle(self, report: CycleReport) -> None:
        raise StoreUnavailable("disk I/O error")

    def recent_cycles(self, last: int) -> list[CycleReport]:
        return self.cycles.recent_cycles(last)


def committing_pipeline(stores: Stores, tmp_path: Path, cycles: CycleRepository) -> Pipeline:
    assert stores.staging is not None
    return Pipeline(
        stores.flights,
        stores.dead_letters,
        retry=RetryPolicy(attempts=2, initial_wait_s=0.0),
        processed=ProcessedWriter(LocalSink(tmp_path), staging=stores.staging),
        cycles=cycles,
        unit_of_work=stores.unit_of_work,
    )


def test_a_cycle_whose_report_fails_keeps_none_of_its_writes(
    stores: Stores, tmp_path: Path
) -> None:
    pipeline = committing_pipeline(stores, tmp_path, UnwritableCycles(stores.cycles))

    report = pipeline.process("opensky", ALPS, normalise_states, cycle_id="opensky@1")

    assert report.error is not None
    assert "disk I/O error" in report.error
    assert stores.flights.latest("51116f") is None
    assert stores.dead_letters.count() == 0
    assert stores.cycles.recent_cycles(5) == []
    assert pipeline.processed is not None
    assert pipeline.processed.flush() == []


def test_start_up_processes_each_body_no_cycle_names_once(stores: Stores, tmp_path: Path) -> None:
    path = recording(tmp_path, 0)
    body = path.read_bytes()
    pipeline = committing_pipeline(stores, tmp_path, stores.cycles)
    loop = IngestLoop(
        FileSource(path),
        pipeline,
        interval_s=60,
        history=timedelta(hours=6),
        archive=stores.archive,
        cycles=stores.cycles,
    )
    asyncio.run(loop.run_once())
    orphan = stores.archive.put(body, source="opensky", received_at=datetime.now(UTC))

    first = asyncio.run(loop.recover())
    again = asyncio.run(loop.recover())

    assert (first.bodies, first.received, first.duplicates, first.rejected) == (1, 79, 78, 1)
    assert again.bodies == 0
    cycles = stores.cycles.recent_cycles(5)
    assert cycles[0].archive_key == orphan
    assert all(c.balanced for c in cycles)
