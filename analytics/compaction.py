"""Daily compaction of the processed Parquet: each day-and-region partition's small files
(one per partition per flush: 2,592 a day on AWS) become one large file, so a windowed query
opens a few files instead of thousands.

A partition is compacted in three steps, each safe to be cut short:

1. its ``part-*.parquet`` files are streamed, in name (so time) order, into a local
   temporary file, with the names of the files it holds in its footer
   (``flightdata.compacted_from``); the rows written must equal the inputs' own count;
2. that file is published whole under ``part-compacted-<digest of the inputs>.parquet``
   (a rename in the data directory; one S3 upload, which exists only once complete);
3. the inputs are deleted.

A rerun first finishes what a crash left: the inputs a published compacted file names
and that still exist are deleted, never read again, so no row is counted twice after it.
Between steps 2 and 3 (seconds, or until that rerun after a crash) readers see the rows of
those inputs twice. Compacted files are not compacted again; a partition with fewer than two
other files is left alone. Not thread-safe: one compaction of a day at a time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from analytics.files import LocalProcessed, ProcessedFiles, day_prefix, processed_files
from storage.base import StoreUnavailable
from storage.processed import SCHEMA

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger(__name__)

COMPACTED_PREFIX = "part-compacted-"
FROM_KEY = b"flightdata.compacted_from"
ROW_GROUP_ROWS = 131_072


class CompactionFailed(RuntimeError):
    """A compacted file did not hold its inputs' rows; the inputs were kept."""


class Publisher(Protocol):
    """Puts a finished local file at a path of the processed tree, and deletes paths."""

    def publish(self, local: Path, path: str) -> None: ...

    def delete(self, paths: Sequence[str]) -> None: ...


class LocalPublisher:
    def publish(self, local: Path, path: str) -> None:
        os.replace(local, path)

    def delete(self, paths: Sequence[str]) -> None:
        for path in paths:
            Path(path).unlink(missing_ok=True)


class S3Publisher:
    """Uploads with boto3's transfer manager (multipart, aborted on failure) and deletes in
    batches of 1,000. Paths are pyarrow's ``bucket/key``."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def publish(self, local: Path, path: str) -> None:
        bucket, key = path.split("/", 1)
        self.client.upload_file(str(local), bucket, key)

    def delete(self, paths: Sequence[str]) -> None:
        for start in range(0, len(paths), 1000):
            batch = paths[start : start + 1000]
            bucket = batch[0].split("/", 1)[0]
            objects = [{"Key": p.split("/", 1)[1]} for p in batch]
            answer = self.client.delete_objects(
                Bucket=bucket, Delete={"Objects": objects, "Quiet": True}
            )
            if answer.get("Errors"):
                raise StoreUnavailable(f"deleting compacted inputs failed: {answer['Errors']}")


@dataclass
class PartitionResult:
    """What one partition's compaction did: its compacted file (if it wrote one), the
    inputs it deleted, and the rows moved."""

    partition: str
    written: str | None = None
    deleted: list[str] = field(default_factory=list)
    rows: int = 0


class Compactor:
    """Compacts the partitions of a day under ``files`` (a local data directory or the
    bucket), writing temporary files under ``scratch``."""

    def __init__(
        self, files: ProcessedFiles, publisher: Publisher, scratch: Path | None = None
    ) -> None:
        self.files = files
        self.publisher = publisher
        self.scratch = scratch

    def compact_day(self, day: date) -> list[PartitionResult]:
        fs = self.files.filesystem()
        directory = f"{self.files.base}/{day_prefix(day)}"
        selector = pafs.FileSelector(directory, recursive=True, allow_not_found=True)
        try:
            found = fs.get_file_info(selector)
        except OSError as exc:
            raise StoreUnavailable(f"listing {directory} failed: {exc}") from exc
        partitions: dict[str, list[str]] = {}
        for info in found:
            if info.type == pafs.FileType.File and _is_part(info.base_name):
                partitions.setdefault(str(PurePosixPath(info.path).parent), []).append(info.path)
        return [self.compact(fs, sorted(paths)) for _, paths in sorted(partitions.items())]

    def compact(self, fs: Any, paths: Sequence[str]) -> PartitionResult:
        """One partition's files: finish an earlier run, then compact what is left."""
        partition = str(PurePosixPath(paths[0]).parent)
        result = PartitionResult(partition)
        present = set(paths)
        for path in paths:
            if _name(path).startswith(COMPACTED_PREFIX):
                done = {f"{partition}/{name}" for name in _compacted_from(fs, path)} & present
                self._delete(sorted(done), result)
                present -= done
        inputs = sorted(p for p in present if not _name(p).startswith(COMPACTED_PREFIX))
        if len(inputs) < 2:
            return result
        names = [_name(p) for p in inputs]
        digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
        target = f"{partition}/{COMPACTED_PREFIX}{digest}.parquet"
        expected = sum(_rows(fs, p) for p in inputs)
        local = self._write(fs, inputs, names, expected)
        try:
            self.publisher.publish(local, target)
        finally:
            local.unlink(missing_ok=True)
        result.written, result.rows = target, expected
        self._delete(inputs, result)
        log.info("compacted %d files (%d rows) into %s", len(inputs), expected, target)
        return result

    def _write(self, fs: Any, inputs: Sequence[str], names: Sequence[str], expected: int) -> Path:
        handle, name = tempfile.mkstemp(suffix=".parquet.tmp", dir=self.scratch)
        os.close(handle)
        local = Path(name)
        schema = SCHEMA.with_metadata({FROM_KEY: json.dumps(list(names)).encode()})
        written = 0
        try:
            scanner = ds.dataset(list(inputs), schema=SCHEMA, format="parquet", filesystem=fs)
            with pq.ParquetWriter(local, schema, compression="zstd") as writer:
                for batch in scanner.to_batches(batch_size=ROW_GROUP_ROWS):
                    if batch.num_rows:
                        writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
                        written += batch.num_rows
            if written != expected or pq.read_metadata(local).num_rows != expected:
                raise CompactionFailed(f"wrote {written} rows of {expected} from {inputs[0]}...")
        except BaseException:
            local.unlink(missing_ok=True)
            raise
        return local

    def _delete(self, paths: list[str], result: PartitionResult) -> None:
        if paths:
            self.publisher.delete(paths)
            result.deleted += paths


def _name(path: str) -> str:
    return PurePosixPath(path).name


def _is_part(name: str) -> bool:
    return name.startswith("part-") and name.endswith(".parquet")


def _rows(fs: Any, path: str) -> int:
    with fs.open_input_file(path) as source:
        return int(pq.read_metadata(source).num_rows)


def _compacted_from(fs: Any, path: str) -> list[str]:
    with fs.open_input_file(path) as source:
        metadata = pq.read_metadata(source).metadata or {}
    names: list[str] = json.loads(metadata.get(FROM_KEY, b"[]"))
    return names


def build_compactor(settings: Settings) -> Compactor:
    """The compactor of the processed tree these settings write: the data directory's, with
    its scratch files beside it, or the bucket's, with them in the system's temp directory."""
    files = processed_files(settings)
    if isinstance(files, LocalProcessed):
        scratch = settings.data_dir / "processed"
        scratch.mkdir(parents=True, exist_ok=True)
        return Compactor(files, LocalPublisher(), scratch)
    from storage.aws import aws_client

    return Compactor(files, S3Publisher(aws_client(settings, "s3")))
