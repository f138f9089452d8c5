"""The SQLite database file shared by the embedded repositories.

Thread-safety: one ``SqliteDatabase`` is shared by the API and the ingest loop. Writes go
through a single connection under a lock; reads use one connection per thread, which WAL
lets run while a write is in progress.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from storage import cursor
from storage.base import Page, StoreUnavailable

T = TypeVar("T")

_STATE_TABLE = """
    icao24 TEXT NOT NULL, time REAL NOT NULL, non_icao INTEGER NOT NULL,
    callsign TEXT, origin_country TEXT, time_position REAL, last_contact REAL NOT NULL,
    latitude REAL, longitude REAL, baro_altitude_m REAL, geo_altitude_m REAL,
    on_ground INTEGER NOT NULL, velocity_mps REAL, true_track_deg REAL,
    vertical_rate_mps REAL, squawk TEXT, spi INTEGER NOT NULL, position_source INTEGER,
    category INTEGER, source TEXT NOT NULL, region TEXT NOT NULL, hour INTEGER NOT NULL,
    grid_cell TEXT, phase TEXT, nearest_airport_icao TEXT, nearest_airport_km REAL
"""
# Columns added after a table was first created: (table, column, declaration).
_ADDED_COLUMNS = (
    *(
        (table, column, kind)
        for table in ("states", "latest")
        for column, kind in (
            ("grid_cell", "TEXT"),
            ("phase", "TEXT"),
            ("nearest_airport_icao", "TEXT"),
            ("nearest_airport_km", "REAL"),
        )
    ),
    ("dead_letters", "cycle_id", "TEXT"),
    ("dead_letters", "observed_at", "REAL"),
    ("dead_letters", "fingerprint", "BLOB"),
)
_AFTER_MIGRATION = """
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_fingerprint ON dead_letters (fingerprint);
"""
SCHEMA = f"""
-- Rowid tables: their rows are too wide for WITHOUT ROWID to pay (about 200 bytes),
-- and inserts into them measured 25 % faster.
CREATE TABLE IF NOT EXISTS states ({_STATE_TABLE});
CREATE UNIQUE INDEX IF NOT EXISTS states_key ON states (icao24, time);
CREATE INDEX IF NOT EXISTS states_region_hour ON states (region, hour);
CREATE INDEX IF NOT EXISTS states_time ON states (time);
CREATE TABLE IF NOT EXISTS latest ({_STATE_TABLE}, PRIMARY KEY (icao24));
CREATE INDEX IF NOT EXISTS latest_last_contact ON latest (last_contact);
CREATE TABLE IF NOT EXISTS airports (
    icao TEXT PRIMARY KEY, iata TEXT, name TEXT NOT NULL, city TEXT, country TEXT,
    region TEXT, latitude REAL NOT NULL, longitude REAL NOT NULL, elevation_m REAL,
    type TEXT, time_zone TEXT
);
CREATE INDEX IF NOT EXISTS airports_iata ON airports (iata);
CREATE INDEX IF NOT EXISTS airports_country_region ON airports (country, region);
CREATE TABLE IF NOT EXISTS runways (
    airport_icao TEXT NOT NULL, position INTEGER NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (airport_icao, position)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, reason TEXT NOT NULL, detail TEXT NOT NULL,
    source TEXT NOT NULL, raw BLOB NOT NULL, received_at REAL NOT NULL,
    attempts INTEGER NOT NULL, cycle_id TEXT, observed_at REAL, fingerprint BLOB
);
CREATE TABLE IF NOT EXISTS routes (
    icao24 TEXT NOT NULL, departed_at REAL NOT NULL, arrived_at REAL, updated_at REAL NOT NULL,
    body BLOB NOT NULL, PRIMARY KEY (icao24, departed_at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS routes_arrived ON routes (arrived_at);
CREATE INDEX IF NOT EXISTS routes_updated ON routes (updated_at);
CREATE TABLE IF NOT EXISTS cycles (
    cycle_id TEXT PRIMARY KEY, source TEXT NOT NULL, started_at REAL NOT NULL,
    finished_at REAL, received INTEGER NOT NULL, stored INTEGER NOT NULL,
    rejected INTEGER NOT NULL, duplicates INTEGER NOT NULL, reasons BLOB NOT NULL,
    error TEXT, archive_key TEXT
);
CREATE INDEX IF NOT EXISTS cycles_started ON cycles (started_at);
CREATE INDEX IF NOT EXISTS cycles_archive_key ON cycles (archive_key);
-- States stored but not yet in Parquet (storage.sqlite.processed), staged by the cycle
-- that stored them; ``flush`` names the Parquet write that claimed them.
CREATE TABLE IF NOT EXISTS processed_pending (
    icao24 TEXT NOT NULL, time REAL NOT NULL, flush TEXT, PRIMARY KEY (icao24, time)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS processed_pending_flush ON processed_pending (flush);
CREATE INDEX IF NOT EXISTS dead_letters_reason ON dead_letters (reason, id);
-- API keys (storage.sqlite.api_keys): the SHA-256 of each key, never the key.
CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, tier TEXT NOT NULL,
    key_hash TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    revoked_at REAL, rotated_to TEXT
);
"""


# How long close waits for reads in progress (a read takes milliseconds).
_CLOSE_WAIT_S = 10.0
# Page cache of each connection (the writer and one reader per thread). The file's pages
# stay in the OS's cache besides; 64 MiB per connection grew the ingest process by 50 MiB.
_CACHE_KIB = 16 * 1024
# Page cache of a reader during a scan (``scanning``): pages read once need none.
_SCAN_CACHE_KIB = 1024


class SqliteDatabase:
    """One SQLite file in WAL mode, its schema created on open.

    Thread-safe: each thread reads on its own connection, writes take one lock, and
    ``close`` waits for the reads in progress (a store call offloaded to a worker thread
    may still run when its request is cancelled), since closing a connection that another
    thread is reading crashes the interpreter.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        # Re-entrant so that a transaction can hold the repositories' own (``transaction``).
        self._write_lock = threading.RLock()
        self._depth = 0
        self._reading = 0
        self._reads_done = threading.Condition()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self._connect()
            self._writer.executescript(SCHEMA)
            self._migrate()
            self._writer.executescript(_AFTER_MIGRATION)
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open SQLite store at {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Add the columns a database made by an earlier version lacks."""
        for table, column, kind in _ADDED_COLUMNS:
            present = {row[1] for row in self._writer.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                self._writer.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute(f"PRAGMA cache_size=-{_CACHE_KIB}")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._write_lock:
                self._readers.append(conn)
        return conn

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._reads_done:
            self._reading += 1
        try:
            return self._reader().execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite read failed: {exc}") from exc
        finally:
            with self._reads_done:
                self._reading -= 1
                if not self._reading:
                    self._reads_done.notify_all()

    @contextmanager
    def scanning(self) -> Iterator[None]:
        """For reads of this thread that visit each page once (a scan): its connection
        keeps a small page cache meanwhile, so that a scan of 100,000 states does not
        grow the process by the full 16 MiB cache, and frees the cache after."""
        self.read(f"PRAGMA cache_size=-{_SCAN_CACHE_KIB}")
        try:
            yield
        finally:
            self.read(f"PRAGMA cache_size=-{_CACHE_KIB}")
            self.read("PRAGMA shrink_memory")

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.read(sql, params)[0][0]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A transaction opened inside another on the same thread
        joins it: the repositories' writes of one ingest cycle commit together, or none."""
        with self._write_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._writer
                finally:
                    self._depth -= 1
                return
            conn = self._writer
            self._depth = 1
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreUnavailable(f"SQLite write failed: {exc}") from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0

    def keyset_page(
        self,
        *,
        table: str,
        columns: str,
        where: str,
        params: list[Any],
        key: str,
        kind: str,
        first: int,
        after: str | None,
        build: Callable[[Sequence[Any]], T],
        key_type: type = str,
    ) -> Page[T]:
        """One page of ``table`` ordered by the unique column ``key``, after the cursor.

        The first selected column must be ``key``; cursors are ``storage.cursor``s of
        ``kind`` holding it, and ``total_count`` counts every row matching ``where``.
        """
        total = self.scalar(f"SELECT count(*) FROM {table} WHERE {where}", params)
        if after is not None:
            last = cursor.decode(kind, after)
            if type(last) is not key_type:
                raise cursor.invalid(after)
            where = f"{where} AND {key} > ?"
            params = [*params, last]
        rows = self.read(
            f"SELECT {columns} FROM {table} WHERE {where} ORDER BY {key} LIMIT ?",
            [*params, first + 1],
        )
        page = rows[:first]
        return Page(
            items=[build(r) for r in page],
            cursors=[cursor.encode(kind, r[0]) for r in page],
            total_count=int(total),
            has_next_page=len(rows) > first,
        )

    def ping(self) -> None:
        self.read("SELECT 1")

    def close(self) -> None:
        """Close the writer and every thread's reader, once the reads in progress are done
        (no read starts meanwhile). A later read opens a reader again."""
        with self._reads_done:
            self._reads_done.wait_for(lambda: not self._reading, timeout=_CLOSE_WAIT_S)
            with self._write_lock:
                readers, self._readers = self._readers, []
                self._writer.close()
            for conn in readers:
                conn.close()
            self._local = threading.local()
