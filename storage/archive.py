"""The raw archive: every body a source sent, gzip-compressed, before anything parses it.

Keys follow the S3 layout of the architecture, under the data directory locally:
``raw/year=YYYY/month=MM/day=DD/hour=HH/flights-YYYYMMDD-HHMMSS.json.gz``. A second body in
the same second gets ``-1``, ``-2``... before the extension. Each object carries its
source name (S3 object metadata; a ``.meta`` file beside it locally) so a re-run knows how
to read it.

Locally, ``LocalArchive.prune`` deletes bodies older than the raw retention
(``FLIGHTDATA_RAW_DAYS``); on S3 the bucket's lifecycle rules expire them.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

import orjson

from storage._files import remove_empty


@dataclass(frozen=True, slots=True)
class ArchivedBody:
    key: str
    source: str
    received_at: datetime
    body: bytes


def raw_prefix(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"raw/year={at:%Y}/month={at:%m}/day={at:%d}/hour={at:%H}/"


def raw_key(at: datetime, attempt: int = 0) -> str:
    at = at.astimezone(UTC)
    suffix = f"-{attempt}" if attempt else ""
    return f"{raw_prefix(at)}flights-{at:%Y%m%d-%H%M%S}{suffix}.json.gz"


def hours_between(start: datetime, end: datetime) -> Iterator[datetime]:
    """The start of every UTC hour that overlaps ``[start, end]``."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    while hour <= end:
        yield hour
        hour += timedelta(hours=1)


class RawArchive(Protocol):
    def put(self, body: bytes, *, source: str, received_at: datetime) -> str:
        """Store ``body``; returns its key."""
        ...

    def get(self, key: str) -> ArchivedBody: ...

    def keys(self, start: datetime, end: datetime) -> list[str]:
        """Keys of the bodies received in ``[start, end]``, oldest first."""
        ...


class LocalArchive:
    """``RawArchive`` on the local file system. Writes are atomic (temp file, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def put(self, body: bytes, *, source: str, received_at: datetime) -> str:
        data = gzip.compress(body, compresslevel=5)
        meta = orjson.dumps({"source": source, "received_at": received_at.isoformat()})
        with self._lock:
            attempt = 0
            while (self.root / raw_key(received_at, attempt)).exists():
                attempt += 1
            key = raw_key(received_at, attempt)
            path = self.root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomic(path.with_name(path.name + ".meta"), meta)
            _write_atomic(path, data)
        return key

    def get(self, key: str) -> ArchivedBody:
        path = self.root / key
        if not key.startswith("raw/") or ".." in Path(key).parts:
            raise FileNotFoundError(key)
        meta = orjson.loads(path.with_name(path.name + ".meta").read_bytes())
        return ArchivedBody(
            key=key,
            source=meta["source"],
            received_at=datetime.fromisoformat(meta["received_at"]),
            body=gzip.decompress(path.read_bytes()),
        )

    def keys(self, start: datetime, end: datetime) -> list[str]:
        found: list[tuple[tuple[datetime, int], str]] = []
        for hour in hours_between(start, end):
            folder = self.root / raw_prefix(hour)
            if not folder.is_dir():
                continue
            for path in folder.glob("flights-*.json.gz"):
                order = key_order(path.name)
                if order is not None and start <= order[0] <= end:
                    found.append((order, str(path.relative_to(self.root))))
        return [key for _, key in sorted(found)]

    def prune(self, before: datetime) -> int:
        """Delete the bodies received before ``before``, with their ``.meta`` files and any
        temporary file a crash left; returns how many bodies were deleted. Bodies received
        at or after ``before`` are never touched."""
        removed = 0
        for folder in self.root.glob("raw/year=*/month=*/day=*/hour=*"):
            hour = _folder_hour(folder)
            if hour is None or hour >= before:
                continue
            for path in folder.iterdir():
                match = _FILE_NAME.fullmatch(path.name)
                if match is None or _received_at(match[1]) >= before:
                    continue
                path.unlink(missing_ok=True)
                if match[2] is None:
                    removed += 1
            remove_empty(folder, self.root / "raw")
        return removed


_KEY_NAME = re.compile(r"flights-(\d{8}-\d{6})(?:-(\d+))?\.json\.gz")
# A body, its ``.meta`` or a temporary file of either: group 2 is set for all but a body.
_FILE_NAME = re.compile(
    r"\.?flights-(\d{8}-\d{6})(?:-\d+)?\.json\.gz(\.meta|(?:\.meta)?\.\d+\.tmp)?"
)
_FOLDER = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})$")


def key_order(name: str) -> tuple[datetime, int] | None:
    """When a body named ``name`` was received and its same-second suffix; ``None`` if the
    name is not an archive name."""
    match = _KEY_NAME.fullmatch(name)
    if match is None:
        return None
    return _received_at(match[1]), int(match[2] or 0)


def _received_at(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%d-%H%M%S").replace(tzinfo=UTC)


def _folder_hour(folder: Path) -> datetime | None:
    """The start of the hour a ``raw/year=…/month=…/day=…/hour=…`` folder holds."""
    match = _FOLDER.search(folder.as_posix())
    if match is None:
        return None
    year, month, day, hour = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:  # not a folder the archive wrote
        return None


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
