"""Processed states as Parquet, partitioned by day and region for Athena and DuckDB.

Layout (the architecture's S3 layout, under the data directory locally):
``processed/flights/year=YYYY/month=MM/day=DD/region=NAME/part-HHMMSS-XXXXXXXX.parquet``.
States are written in batches (a file per partition per flush) so a day holds hundreds of
files, not tens of thousands. Each stored state is written once: the pipeline adds only the
states a cycle stored for the first time.

With a ``ProcessedStaging`` (the embedded store) the states wait in the store, staged in
the transaction of the cycle that stored them, and a flush is claim, write, release: files
are named by the flush id (``part-<flush id>.parquet``) and written whole (temp file,
rename), so a flush cut short by a crash is done again at the next flush with the same rows
under the same names. A crash loses nothing and writes nothing twice. Without one (the AWS
processor, which flushes after every batch), states are buffered in memory and a crash
loses what was buffered.

Thread-safe: ``add`` and ``flush`` may be called from different threads.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from domain import FlightState

SCHEMA = pa.schema(
    [
        ("icao24", pa.string()),
        ("time", pa.timestamp("us", tz="UTC")),
        ("last_contact", pa.timestamp("us", tz="UTC")),
        ("callsign", pa.string()),
        ("origin_country", pa.string()),
        ("latitude", pa.float64()),
        ("longitude", pa.float64()),
        ("baro_altitude_m", pa.float64()),
        ("geo_altitude_m", pa.float64()),
        ("on_ground", pa.bool_()),
        ("velocity_mps", pa.float64()),
        ("true_track_deg", pa.float64()),
        ("vertical_rate_mps", pa.float64()),
        ("squawk", pa.string()),
        ("category", pa.int8()),
        ("source", pa.string()),
        ("region", pa.string()),
        ("grid_cell", pa.string()),
        ("phase", pa.string()),
        ("nearest_airport_icao", pa.string()),
        ("nearest_airport_km", pa.float64()),
    ]
)


def partition(at: datetime, region: str) -> str:
    at = at.astimezone(UTC)
    return f"processed/flights/year={at:%Y}/month={at:%m}/day={at:%d}/region={region}/"


def _column(name: str, states: Sequence[FlightState]) -> list[Any]:
    if name == "time":
        return [s.time for s in states]
    if name in {"source", "phase"}:
        return [None if (v := getattr(s, name)) is None else v.value for s in states]
    return [getattr(s, name) for s in states]


# Rows per row group. The writer holds a row group's encoded columns until the group is
# done; compaction (``analytics.compaction``) merges a day's files into larger groups.
ROW_GROUP = 16_384


def _record_batch(states: Sequence[FlightState]) -> pa.RecordBatch:
    columns = [pa.array(_column(f.name, states), type=f.type) for f in SCHEMA]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


class _ParquetFile:
    """A Parquet file encoded a row group at a time as batches are added: it holds at
    most a row group's Arrow batches and the compressed file so far."""

    def __init__(self) -> None:
        self._out = pa.BufferOutputStream()
        self._writer = pq.ParquetWriter(self._out, SCHEMA, compression="zstd")
        self._waiting: list[pa.RecordBatch] = []
        self._rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._waiting.append(batch)
        self._rows += batch.num_rows
        if self._rows >= ROW_GROUP:
            self._write_group()

    def _write_group(self) -> None:
        self._writer.write_table(pa.Table.from_batches(self._waiting, schema=SCHEMA))
        self._waiting, self._rows = [], 0

    def finish(self) -> bytes:
        if self._waiting:
            self._write_group()
        self._writer.close()
        return bytes(self._out.getvalue().to_pybytes())


def to_parquet(states: Sequence[FlightState]) -> bytes:
    file = _ParquetFile()
    for start in range(0, len(states), ROW_GROUP):
        file.add(_record_batch(states[start : start + ROW_GROUP]))
    return file.finish()


class ObjectSink(Protocol):
    def write(self, key: str, data: bytes) -> None: ...


class LocalSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


class ProcessedStaging(Protocol):
    """Where stored states wait for Parquet, committed with the cycle that stored them."""

    def stage(self, states: Sequence[FlightState]) -> None: ...

    def claim(self) -> str | None:
        """The id of a flush begun and not released, else a new id claiming every staged
        state; ``None`` when nothing waits."""
        ...

    def claimed(self, flush_id: str) -> Iterable[Sequence[FlightState]]:
        """The states of ``flush_id``, a page at a time."""
        ...

    def release(self, flush_id: str) -> None:
        """Forget the states of ``flush_id``: their files are written."""
        ...


def by_partition(states: Sequence[FlightState]) -> dict[str, list[FlightState]]:
    groups: dict[str, list[FlightState]] = defaultdict(list)
    for s in states:
        groups[partition(s.time, s.region or "unknown")].append(s)
    return groups


class ProcessedWriter:
    """Writes added states to Parquet, one file per partition per ``flush``.

    Due every ``flush_every_s``, or sooner once ``max_rows`` are added: buffered states
    are objects (about 1 KB each), so a short ingest interval must not hold five minutes
    of them.
    """

    def __init__(
        self,
        sink: ObjectSink,
        *,
        flush_every_s: float = 300.0,
        max_rows: int = 100_000,
        staging: ProcessedStaging | None = None,
    ) -> None:
        self.sink = sink
        self.flush_every_s = flush_every_s
        self.max_rows = max_rows
        self.staging = staging
        self._buffer: dict[str, list[FlightState]] = defaultdict(list)
        self._rows = 0
        self._since = time.monotonic()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()

    @property
    def durable(self) -> bool:
        """Whether added states are kept by the store (add them in the unit of work that
        stores them) rather than in memory (add them once stored)."""
        return self.staging is not None

    def add(self, states: Sequence[FlightState]) -> None:
        if self.staging is not None:
            self.staging.stage(states)
            with self._lock:
                self._rows += len(states)
            return
        groups = by_partition(states)
        with self._lock:
            for prefix, group in groups.items():
                self._buffer[prefix].extend(group)
            self._rows += len(states)

    def due(self) -> bool:
        return self._rows >= self.max_rows or (
            self._rows > 0 and time.monotonic() - self._since >= self.flush_every_s
        )

    def flush(self) -> list[str]:
        """Write what was added; returns the keys written."""
        with self._flushing:
            with self._lock:
                buffer, self._buffer = self._buffer, defaultdict(list)
                self._rows = 0
                self._since = time.monotonic()
            if self.staging is None:
                name = f"{datetime.now(UTC):%H%M%S}-{uuid.uuid4().hex[:8]}"
                return self._write(buffer, name)
            keys = []
            while (flush_id := self.staging.claim()) is not None:
                keys += self._write_pages(self.staging.claimed(flush_id), flush_id)
                self.staging.release(flush_id)
            return keys

    def _write_pages(self, pages: Iterable[Sequence[FlightState]], name: str) -> list[str]:
        """Like ``_write``, holding one page of states and a row group a partition."""
        files: dict[str, _ParquetFile] = {}
        for page in pages:
            for prefix, states in by_partition(page).items():
                if prefix not in files:
                    files[prefix] = _ParquetFile()
                files[prefix].add(_record_batch(states))
        keys = []
        for prefix, file in files.items():
            key = f"{prefix}part-{name}.parquet"
            self.sink.write(key, file.finish())
            keys.append(key)
        return keys

    def _write(self, groups: dict[str, list[FlightState]], name: str) -> list[str]:
        keys = []
        for prefix, states in groups.items():
            key = f"{prefix}part-{name}.parquet"
            self.sink.write(key, to_parquet(states))
            keys.append(key)
        return keys
