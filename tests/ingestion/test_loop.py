"""The ingest loop: a failed cycle is reported and the loop goes on; cycles never overlap."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config import Settings
from ingestion.loop import IngestLoop
from ingestion.pipeline import Pipeline
from ingestion.sources import FileSource
from runtime.stores import open_stores
from storage.archive import LocalArchive
from storage.retention import FileRetention
from storage.stores import Stores
from testkit import FIXTURES, make_state

ALPS = FIXTURES / "opensky_states_bbox_alps_79.json"


def make_loop(stores: Stores, source: FileSource, interval_s: float = 60.0) -> IngestLoop:
    return IngestLoop(
        source,
        Pipeline(stores.flights, stores.dead_letters),
        interval_s=interval_s,
        history=timedelta(hours=6),
    )


class SlowFileSource(FileSource):
    """A file source whose fetch takes a while, and that counts fetches in flight."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.in_flight = 0
        self.most_in_flight = 0

    async def fetch(self) -> bytes:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(0.05)
            return await super().fetch()
        finally:
            self.in_flight -= 1


def test_a_failing_source_is_reported_and_the_next_cycle_runs(
    stores: Stores, tmp_path: Path
) -> None:
    recording = tmp_path / "states.json"
    loop = make_loop(stores, FileSource(recording))

    async def two_cycles() -> None:
        failed = await loop.run_once()
        assert failed.error is not None
        assert "cannot read" in failed.error
        assert (failed.received, failed.stored) == (0, 0)
        assert failed.finished_at is not None
        shutil.copyfile(ALPS, recording)
        ok = await loop.run_once()
        assert ok.error is None
        assert (ok.received, ok.stored) == (79, 78)

    asyncio.run(two_cycles())
    assert [r.error is None for r in loop.reports] == [False, True]


def test_run_forever_carries_on_after_failures(stores: Stores, tmp_path: Path) -> None:
    recording = tmp_path / "states.json"
    loop = make_loop(stores, FileSource(recording), interval_s=0.01)

    async def run() -> None:
        task = asyncio.create_task(loop.run_forever())
        try:
            while len(loop.reports) < 3:
                await asyncio.sleep(0.01)
            shutil.copyfile(ALPS, recording)
            while loop.reports[-1].error is not None:
                await asyncio.sleep(0.01)
            assert not task.done()
        finally:
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(asyncio.wait_for(run(), timeout=10))
    errors = [r.error is not None for r in loop.reports]
    assert errors[:3] == [True, True, True]
    assert errors[-1] is False
    assert stores.flights.latest("51116f") is not None


def test_run_once_never_overlaps_itself(stores: Stores) -> None:
    source = SlowFileSource(ALPS)
    loop = make_loop(stores, source)

    async def concurrently() -> list[int]:
        reports = await asyncio.gather(loop.run_once(), loop.run_once(), loop.run_once())
        return [r.stored for r in reports]

    stored = asyncio.run(concurrently())
    assert source.most_in_flight == 1
    assert sorted(stored) == [0, 0, 78]  # the later cycles find everything stored
    assert len(loop.reports) == 3


def test_reports_are_bounded(stores: Stores) -> None:
    loop = IngestLoop(
        FileSource(ALPS),
        Pipeline(stores.flights, stores.dead_letters),
        interval_s=60,
        history=timedelta(hours=1),
        keep_reports=2,
    )

    async def cycles() -> None:
        for _ in range(4):
            await loop.run_once()

    asyncio.run(cycles())
    assert len(loop.reports) == 2


def test_history_is_pruned_back_from_the_newest_state(stores: Stores) -> None:
    loop = make_loop(stores, FileSource(ALPS))
    loop.history = timedelta(minutes=10)
    # Older than the recording's newest state by more than the history: pruned.
    old = make_state("abcdef", datetime(2026, 7, 29, 13, 0, tzinfo=UTC))
    stores.flights.put_states([old])
    loop._last_prune = float("-inf")  # prune on this cycle, however long the machine is up

    report = asyncio.run(loop.run_once())

    assert report.stored == 78
    # The recording is months old, yet what it stored is kept: only the older state goes.
    assert stores.flights.latest("51116f") is not None
    assert stores.flights.latest("abcdef") is None
    assert stores.flights.tracks(["abcdef"], old.time, old.time) == {"abcdef": []}


def test_the_loop_prunes_local_files_past_their_retention(settings: Settings) -> None:
    stores = open_stores(settings)
    archive = LocalArchive(settings.data_dir)
    old = archive.put(b"{}", source="file", received_at=datetime.now(UTC) - timedelta(days=3))
    loop = IngestLoop(
        FileSource(ALPS),
        Pipeline(stores.flights, stores.dead_letters),
        interval_s=60.0,
        history=timedelta(hours=6),
        archive=archive,
        retention=FileRetention(archive, settings.data_dir, timedelta(days=1), timedelta(7)),
    )
    report = asyncio.run(loop.run_once())

    assert report.archive_key is not None
    assert not (settings.data_dir / old).exists()
    assert (settings.data_dir / report.archive_key).exists()
