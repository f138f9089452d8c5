"""Compaction of a day's processed Parquet, in a data directory and in the moto server's S3:
every row once, before and after, whatever step a run is cut short at."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from recorded_day import DAY, record

import cli
from analytics import flights
from analytics.compaction import (
    COMPACTED_PREFIX,
    Compactor,
    LocalPublisher,
    S3Publisher,
    build_compactor,
)
from analytics.engine import FlightsEngine
from analytics.files import LocalProcessed, ProcessedFiles, S3Filesystems, S3Processed
from analytics.params import day_window
from analytics.results import Basis
from config import Settings

if TYPE_CHECKING:
    from moto_server import MotoServer

pytest_plugins = ["moto_server"]


class Crash(Exception):
    """Stands for the process dying at that point."""


class CrashOnDelete(LocalPublisher):
    def delete(self, paths: Sequence[str]) -> None:
        raise Crash


class CrashOnPublish(LocalPublisher):
    def publish(self, local: Path, path: str) -> None:
        raise Crash


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings.from_env({}, data_dir=tmp_path)
    day = record(settings)
    yield settings
    day.stores.close()


def _rows(files: ProcessedFiles) -> list[tuple[Any, ...]]:
    """Every row of the day, sorted: equal lists hold each row as often."""
    table = files.dataset([DAY]).to_table()
    return sorted(tuple(map(repr, row.values())) for row in table.to_pylist())


def _parts(files: ProcessedFiles) -> dict[str, list[str]]:
    """File names per region directory of the day."""
    fs = files.filesystem()
    found = fs.get_file_info(pafs.FileSelector(files.base, recursive=True))
    parts: dict[str, list[str]] = {}
    for info in found:
        if info.base_name.startswith("part-") and "/day=20/" in info.path:
            region = info.path.split("/region=")[1].split("/")[0]
            parts.setdefault(region, []).append(info.base_name)
    return {region: sorted(names) for region, names in parts.items()}


def _day_totals(files: ProcessedFiles) -> tuple[int, int]:
    window = day_window(DAY)
    scope = flights.Scope(files.dataset([DAY]), window.start, window.end, Basis.PARQUET)
    return flights.day_totals(FlightsEngine(), scope)


def _local(settings: Settings) -> LocalProcessed:
    return LocalProcessed(settings.data_dir)


def test_each_partition_becomes_one_file_with_every_row_once(settings: Settings) -> None:
    files = _local(settings)
    rows, totals, before = _rows(files), _day_totals(files), _parts(files)
    assert min(len(names) for names in before.values()) >= 2

    results = build_compactor(settings).compact_day(DAY)

    after = _parts(files)
    assert set(after) == set(before)
    assert all(len(n) == 1 and n[0].startswith(COMPACTED_PREFIX) for n in after.values())
    assert _rows(files) == rows
    assert _day_totals(files) == totals
    assert sum(r.rows for r in results) == len(rows)
    assert not list((settings.data_dir / "processed").glob("*.tmp"))


def test_compacted_files_name_what_they_hold(settings: Settings) -> None:
    files = _local(settings)
    before = _parts(files)
    [result, *_] = build_compactor(settings).compact_day(DAY)
    region = result.partition.split("region=")[1]

    assert result.written is not None
    metadata = pq.read_metadata(result.written).metadata
    assert sorted(json.loads(metadata[b"flightdata.compacted_from"])) == before[region]
    assert sorted(Path(p).name for p in result.deleted) == before[region]


def test_a_second_run_changes_nothing(settings: Settings) -> None:
    files = _local(settings)
    build_compactor(settings).compact_day(DAY)
    parts, rows = _parts(files), _rows(files)

    again = build_compactor(settings).compact_day(DAY)

    assert [(r.written, r.deleted) for r in again] == [(None, [])] * len(parts)
    assert _parts(files) == parts
    assert _rows(files) == rows


def test_a_crash_before_the_inputs_are_deleted_is_finished_by_the_next_run(
    settings: Settings,
) -> None:
    files = _local(settings)
    rows, before = _rows(files), _parts(files)
    scratch = settings.data_dir / "processed"

    with pytest.raises(Crash):
        Compactor(files, CrashOnDelete(), scratch).compact_day(DAY)
    assert len(_rows(files)) > len(rows)  # the moved rows are there twice until the rerun

    build_compactor(settings).compact_day(DAY)

    assert _rows(files) == rows
    assert sum(len(n) for n in _parts(files).values()) == len(before)


def test_a_crash_before_publishing_keeps_the_inputs_and_no_scratch(settings: Settings) -> None:
    files = _local(settings)
    rows, before = _rows(files), _parts(files)
    scratch = settings.data_dir / "processed"

    with pytest.raises(Crash):
        Compactor(files, CrashOnPublish(), scratch).compact_day(DAY)

    assert _parts(files) == before
    assert _rows(files) == rows
    assert not list(scratch.glob("*.tmp"))


def test_files_that_arrive_later_are_compacted_apart(settings: Settings) -> None:
    files = _local(settings)
    build_compactor(settings).compact_day(DAY)
    first = _parts(files)
    region = next(iter(first))
    directory = Path(files.base) / f"processed/flights/year=2026/month=11/day=20/region={region}"
    table = pq.read_table(directory / first[region][0])
    for name in ("part-235900-late0001.parquet", "part-235930-late0002.parquet"):
        pq.write_table(table.slice(0, 3), directory / name)
    rows = _rows(files)

    build_compactor(settings).compact_day(DAY)

    names = _parts(files)[region]
    assert len(names) == 2
    assert all(n.startswith(COMPACTED_PREFIX) for n in names)
    assert first[region][0] in names
    assert _rows(files) == rows


def test_a_day_without_files_has_nothing_to_compact(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    assert build_compactor(settings).compact_day(DAY) == []


# ---------------------------------------------------------------- S3


def _upload(settings: Settings, aws: MotoServer) -> S3Processed:
    s3 = aws.s3()
    s3.create_bucket(Bucket="flights", CreateBucketConfiguration={"LocationConstraint": aws.region})
    for path in (settings.data_dir / "processed").rglob("part-*.parquet"):
        key = path.relative_to(settings.data_dir).as_posix()
        s3.upload_file(str(path), "flights", key)
    return S3Processed(S3Filesystems(aws.region, aws.endpoint_url), "flights")


class CrashOnS3Delete(S3Publisher):
    def delete(self, paths: Sequence[str]) -> None:
        raise Crash


def test_compaction_in_s3_moves_every_row_once_and_survives_a_crash(
    settings: Settings, aws: MotoServer
) -> None:
    files = _upload(settings, aws)
    rows, totals, before = _rows(files), _day_totals(files), _parts(files)

    with pytest.raises(Crash):
        Compactor(files, CrashOnS3Delete(aws.s3())).compact_day(DAY)
    results = Compactor(files, S3Publisher(aws.s3())).compact_day(DAY)

    after = _parts(files)
    assert set(after) == set(before)
    assert all(len(n) == 1 and n[0].startswith(COMPACTED_PREFIX) for n in after.values())
    assert _rows(files) == rows
    assert _day_totals(files) == totals
    assert sum(len(r.deleted) for r in results) == sum(len(n) for n in before.values())


# ---------------------------------------------------------------- the command


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``cli`` exports its flags to ``os.environ``; the test gets its environment back."""
    saved = dict(os.environ)
    monkeypatch.delenv("FLIGHTDATA_DATA_DIR", raising=False)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.mark.usefixtures("clean_environ")
def test_the_command_compacts_a_day(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    files = _local(settings)
    regions = len(_parts(files))
    argv = ["analytics", "compact", "--date", DAY.isoformat()]

    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--data-dir", str(settings.data_dir)])

    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{DAY}: {regions} partitions compacted")
    assert all(len(n) == 1 for n in _parts(files).values())
