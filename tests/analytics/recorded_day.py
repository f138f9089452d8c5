"""A past day of processed Parquet, written by the real pipeline and ``ProcessedWriter``.

Imported by the analytics tests as ``recorded_day`` (a module of its own: the name
``conftest`` is taken by several directories).

The recorded 500-state OpenSky snapshot is replayed (moved by dead reckoning, as the
``replay`` source moves it) three times on 2026-11-20 and once just after midnight, each
cycle stored, reported and flushed to Parquet as the ingest loop would, so a query over the
day and one over a part of it see different aircraft and positions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson
import pyarrow.dataset as ds

from config import Settings
from domain.cycle import CycleReport
from ingestion.replay import ReplaySource
from runtime.ingest import build_pipeline
from runtime.stores import open_stores
from storage.stores import Stores
from testkit import FIXTURES, SteppedClock

DAY = date(2026, 11, 20)
MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)
CYCLES = (
    MIDNIGHT + timedelta(hours=10),
    MIDNIGHT + timedelta(hours=10, minutes=5),
    MIDNIGHT + timedelta(hours=18),
    MIDNIGHT + timedelta(days=1, minutes=2),
)
SNAPSHOT = FIXTURES / "opensky_states_all_18field_first500.json"


@dataclass
class RecordedDay:
    settings: Settings
    stores: Stores
    reports: list[CycleReport]

    def parquet_rows(self) -> list[dict[str, object]]:
        """Every row written, read back by pyarrow alone (no DuckDB)."""
        root = self.settings.data_dir / "processed" / "flights"
        files = sorted(str(p) for p in root.glob("year=*/month=*/day=*/region=*/part-*.parquet"))
        rows: list[dict[str, object]] = ds.dataset(files, format="parquet").to_table().to_pylist()
        return rows


def record(settings: Settings, times: tuple[datetime, ...] = CYCLES) -> RecordedDay:
    stores = open_stores(settings)
    snapshot = orjson.loads(SNAPSHOT.read_bytes())
    source = ReplaySource(snapshot, clock=SteppedClock(*(t.timestamp() for t in times)))
    pipeline = build_pipeline(settings, stores, None)
    assert pipeline.processed is not None
    reports = []
    for at in times:
        report = pipeline.process(
            source.name, source.advance(), source.normalise, cycle_id=f"c{at:%H%M}", started_at=at
        )
        stores.cycles.put_cycle(report)
        pipeline.processed.flush()
        reports.append(report)
    return RecordedDay(settings, stores, reports)
