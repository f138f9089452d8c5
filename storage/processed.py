"""Processed states as Parquet, partitioned by day and region for Athena and DuckDB.

Layout (the architecture's S3 layout, under the data directory locally):
``processed/flights/year=YYYY/month=MM/day=DD/region=NAME/part-HHMMSS-XXXXXXXX.parquet``.
States are buffered as they are and turned into columns when written, in batches (a
file per partition per flush) so a day holds hundreds of files, not tens of thousands.
A crash loses at most one flush interval, which ``flightdata reprocess`` rebuilds from
the raw archive.

Thread-safe: ``add`` and ``flush`` may be called from different threads.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
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


def to_parquet(states: Sequence[FlightState]) -> bytes:
    columns = [pa.array(_column(f.name, states), type=f.type) for f in SCHEMA]
    table = pa.Table.from_arrays(columns, schema=SCHEMA)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


class ObjectSink(Protocol):
    def write(self, key: str, data: bytes) -> None: ...


class LocalSink:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


class ProcessedWriter:
    """Buffers states by day and region; ``flush`` writes one Parquet file per partition.

    Due every ``flush_every_s``, or sooner once ``max_rows`` are buffered: buffered states
    are objects (about 1 KB each), so a short ingest interval must not hold five minutes
    of them.
    """

    def __init__(
        self, sink: ObjectSink, *, flush_every_s: float = 300.0, max_rows: int = 100_000
    ) -> None:
        self.sink = sink
        self.flush_every_s = flush_every_s
        self.max_rows = max_rows
        self._buffer: dict[str, list[FlightState]] = defaultdict(list)
        self._rows = 0
        self._since = time.monotonic()
        self._lock = threading.Lock()

    def add(self, states: Sequence[FlightState]) -> None:
        groups: dict[tuple[Any, str], list[FlightState]] = defaultdict(list)
        for s in states:
            groups[(s.time.astimezone(UTC).date(), s.region or "unknown")].append(s)
        with self._lock:
            for (_day, region), group in groups.items():
                self._buffer[partition(group[0].time, region)].extend(group)
            self._rows += len(states)

    def due(self) -> bool:
        return self._rows >= self.max_rows or (
            self._rows > 0 and time.monotonic() - self._since >= self.flush_every_s
        )

    def flush(self) -> list[str]:
        """Write what is buffered; returns the keys written."""
        with self._lock:
            buffer, self._buffer = self._buffer, defaultdict(list)
            self._rows = 0
            self._since = time.monotonic()
        stamp = datetime.now(UTC).strftime("%H%M%S")
        keys = []
        for prefix, states in buffer.items():
            key = f"{prefix}part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
            self.sink.write(key, to_parquet(states))
            keys.append(key)
        return keys
