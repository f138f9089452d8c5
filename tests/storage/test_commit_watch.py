"""Waiting for another connection's commits to the SQLite store instead of polling it."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from storage.sqlite.commits import CommitWatch

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="inotify is Linux's; elsewhere the API polls"
)


def _writer(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
    return conn


def test_a_wait_ends_when_another_connection_commits(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    writer = _writer(path)

    async def run() -> None:
        watch = CommitWatch(str(path))
        try:
            await watch.wait(60)  # the first wait watches the log and returns: poll once
            assert watch.watching
            watch.arm()
            assert await watch.wait(0.05) is False  # nothing written: the timeout
            waiting = asyncio.create_task(watch.wait(60))
            await asyncio.sleep(0.2)
            assert not waiting.done(), "nothing was written since arm"
            await asyncio.to_thread(writer.execute, "INSERT INTO t VALUES (1)")
            # Woken by the commit, not the minute.
            assert await asyncio.wait_for(waiting, 10) is True
        finally:
            watch.close()

    asyncio.run(run())
    writer.close()


def test_a_removed_log_is_watched_again_once_it_exists(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"

    async def run() -> None:
        watch = CommitWatch(str(path))
        writer = _writer(path)
        try:
            await watch.wait(60)
            assert watch.watching
            watch.arm()
            writer.close()  # the last connection: SQLite removes the log
            assert not Path(f"{path}-wal").exists()
            await asyncio.wait_for(watch.wait(60), 10)
            assert not watch.watching
            # No log: the wait sleeps its timeout, the reader polls.
            assert await watch.wait(0.05) is False
            assert not watch.watching
            again = _writer(path)
            again.execute("INSERT INTO t VALUES (2)")
            await watch.wait(60)
            assert watch.watching
            watch.arm()
            waiting = asyncio.create_task(watch.wait(60))
            await asyncio.to_thread(again.execute, "INSERT INTO t VALUES (3)")
            await asyncio.wait_for(waiting, 10)
            again.close()
        finally:
            watch.close()

    asyncio.run(run())


def test_a_cancelled_wait_ends_even_as_a_commit_wakes_it(tmp_path: Path) -> None:
    """Python 3.11's ``wait_for`` lost a cancellation that came as the wait was woken,
    and the poller of a stopping API never stopped."""
    path = tmp_path / "store.sqlite3"
    writer = _writer(path)

    async def run() -> int:
        watch = CommitWatch(str(path))
        cancelled = 0
        try:
            await watch.wait(60)
            for n in range(60):
                watch.arm()
                waiting = asyncio.create_task(watch.wait(60))
                await asyncio.sleep(0)
                writer.execute("INSERT INTO t VALUES (?)", (n,))
                for _ in range(n % 6):  # the wake-up at each step of its way to the waiter
                    await asyncio.sleep(0)
                if waiting.done():
                    continue
                waiting.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiting
                cancelled += 1
        finally:
            watch.close()
        return cancelled

    assert asyncio.run(run()) >= 10
    writer.close()
