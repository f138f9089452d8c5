"""Local retention: how long the embedded default keeps its raw archive and its Parquet.

Raw bodies are judged by when they were received (their names say), against the clock.
Processed Parquet goes by whole UTC day partitions
(``processed/flights/year=…/month=…/day=…/``), judged against the newest data rather than
the clock, so that ingesting an old recording does not delete what it just wrote. The
daily documents under ``processed/flights/aggregates/`` are small and are kept. A
retention of zero keeps files for ever.

On S3 the bucket's lifecycle rules do this instead. Stateless; thread-safe.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage._files import remove_empty
from storage.archive import LocalArchive

_DAY = re.compile(r"year=(\d{4})/month=(\d{2})/day=(\d{2})$")


def prune_processed(root: Path, before: datetime) -> int:
    """Delete the files of every day partition under ``root/processed/flights`` that ends
    at or before ``before``; returns how many files were deleted."""
    top = root / "processed" / "flights"
    removed = 0
    for day in top.glob("year=*/month=*/day=*"):
        start = _day_start(day)
        if start is None or start + timedelta(days=1) > before:
            continue
        removed += sum(1 for path in day.rglob("*") if not path.is_dir())
        shutil.rmtree(day, ignore_errors=True)
        remove_empty(day.parent, top)
    return removed


def _day_start(folder: Path) -> datetime | None:
    match = _DAY.search(folder.as_posix())
    if match is None:
        return None
    year, month, day = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, tzinfo=UTC)
    except ValueError:  # not a partition the writer made
        return None


@dataclass(frozen=True)
class FileRetention:
    """Prunes the local raw archive and the local Parquet tree (either may be absent)."""

    archive: LocalArchive | None
    processed_root: Path | None
    raw: timedelta
    processed: timedelta

    def prune(self, now: datetime, newest: datetime | None = None) -> tuple[int, int]:
        """Delete raw bodies received before ``now - raw`` and day partitions that end
        before ``min(now, newest) - processed``; returns how many of each went."""
        bodies = files = 0
        if self.archive is not None and self.raw:
            bodies = self.archive.prune(now - self.raw)
        if self.processed_root is not None and self.processed:
            reference = min(now, newest or now)
            files = prune_processed(self.processed_root, reference - self.processed)
        return bodies, files
