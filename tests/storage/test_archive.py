"""The local raw archive's retention: bodies older than the cut are deleted, newer kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.archive import LocalArchive

AT = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


def fill(archive: LocalArchive, times: list[datetime]) -> list[str]:
    return [archive.put(b"{}", source="replay", received_at=at) for at in times]


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_prune_deletes_only_bodies_received_before_the_cut(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    times = [AT + timedelta(minutes=20 * i) for i in range(12)]  # four hours
    keys = fill(archive, times)
    cut = AT + timedelta(hours=1, minutes=30)

    assert archive.prune(cut) == 5
    kept = [k for k, at in zip(keys, times, strict=True) if at >= cut]
    assert archive.keys(AT - timedelta(days=1), AT + timedelta(days=1)) == kept
    assert files(tmp_path) == {*kept, *(k + ".meta" for k in kept)}
    assert archive.get(kept[0]).source == "replay"
    assert not (tmp_path / "raw/year=2026/month=11/day=27/hour=10").exists()


def test_prune_removes_emptied_folders_up_to_raw(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    fill(archive, [AT - timedelta(days=40), AT])
    assert archive.prune(AT) == 1
    assert [p.name for p in (tmp_path / "raw").iterdir()] == ["year=2026"]
    assert [p.name for p in (tmp_path / "raw/year=2026").iterdir()] == ["month=11"]
    assert archive.prune(AT) == 0


def test_prune_deletes_what_a_crash_left_but_nothing_else(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    [key] = fill(archive, [AT])
    folder = (tmp_path / key).parent
    (folder / ".flights-20261127-100001.json.gz.4242.tmp").write_bytes(b"half")
    (folder / "flights-20261127-100002.json.gz.meta").write_bytes(b"{}")  # no body
    (folder / "notes.txt").write_bytes(b"mine")

    assert archive.prune(AT + timedelta(hours=2)) == 1
    assert files(tmp_path) == {str(folder.relative_to(tmp_path) / "notes.txt")}


def test_prune_of_an_empty_archive(tmp_path: Path) -> None:
    assert LocalArchive(tmp_path).prune(AT) == 0
