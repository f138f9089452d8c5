"""Local retention of the raw archive and the Parquet day partitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.archive import LocalArchive
from storage.processed import partition
from storage.retention import FileRetention, prune_processed

NOW = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)
SUMMARY = "processed/flights/aggregates/daily/2026-10-01-summary.json"


def write(root: Path, key: str) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"PAR1")


def days_left(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "processed/flights").glob("year=*/month=*/day=*"))


def fill_days(root: Path, days: int) -> None:
    for back in range(days):
        at = NOW - timedelta(days=back)
        for region in ("europe", "asia"):
            write(root, f"{partition(at, region)}part-101500-0a1b2c3d.parquet")
    write(root, SUMMARY)


def test_prune_processed_deletes_whole_days_that_end_before_the_cut(tmp_path: Path) -> None:
    fill_days(tmp_path, 10)  # 2026-11-18 .. 2026-11-27
    cut = NOW - timedelta(days=7)  # 2026-11-20T10:30: the 20th is partly inside

    assert prune_processed(tmp_path, cut) == 4  # 18th and 19th, two regions each
    assert days_left(tmp_path) == [f"day={d}" for d in range(20, 28)]
    assert (tmp_path / SUMMARY).exists()
    assert prune_processed(tmp_path, cut) == 0


def test_prune_processed_removes_emptied_months(tmp_path: Path) -> None:
    write(tmp_path, f"{partition(NOW - timedelta(days=60), 'europe')}part-1.parquet")
    write(tmp_path, f"{partition(NOW, 'europe')}part-2.parquet")
    assert prune_processed(tmp_path, NOW) == 1
    assert [p.name for p in (tmp_path / "processed/flights/year=2026").iterdir()] == ["month=11"]


def test_file_retention_prunes_both_trees(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    for hours in (50, 30, 2):
        archive.put(b"{}", source="replay", received_at=NOW - timedelta(hours=hours))
    fill_days(tmp_path, 10)
    retention = FileRetention(archive, tmp_path, raw=timedelta(days=1), processed=timedelta(7))

    assert retention.prune(NOW, NOW) == (2, 4)
    assert len(archive.keys(NOW - timedelta(days=5), NOW)) == 1
    assert len(days_left(tmp_path)) == 8


def test_processed_retention_counts_back_from_the_newest_data(tmp_path: Path) -> None:
    fill_days(tmp_path, 10)
    retention = FileRetention(None, tmp_path, raw=timedelta(days=1), processed=timedelta(7))
    # An old recording ingested today: its days are kept while they are the newest data.
    assert retention.prune(NOW + timedelta(days=365), NOW) == (0, 4)
    assert len(days_left(tmp_path)) == 8


def test_zero_keeps_everything(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    archive.put(b"{}", source="replay", received_at=NOW - timedelta(days=400))
    fill_days(tmp_path, 10)
    retention = FileRetention(archive, tmp_path, raw=timedelta(0), processed=timedelta(0))
    assert retention.prune(NOW) == (0, 0)
    assert len(days_left(tmp_path)) == 10
