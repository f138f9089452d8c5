"""The ingest process of ``serve``: started, started again when it dies, stopped with the
server, and gone when the server's process is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

from runtime.ingest_process import INGEST_NICENESS, IngestProcess

# Stands in for `flightdata ingest`: says it started, then runs until stopped.
CHILD = "import os, sys, time; open(sys.argv[1], 'a').write(f'{os.getpid()}\\n'); time.sleep(600)"


def wait_for(check: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def started(log: Path) -> list[int]:
    return [int(p) for p in log.read_text().split()] if log.exists() else []


def test_a_child_that_dies_is_started_again_and_stop_ends_it(tmp_path: Path) -> None:
    log = tmp_path / "pids"
    ingest = IngestProcess([sys.executable, "-c", CHILD, str(log)], restart_after_s=0.1)
    with ingest:
        wait_for(lambda: len(started(log)) == 1)
        first = started(log)[0]
        assert ingest.pid == first
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: len(started(log)) == 2)
        second = started(log)[1]
        assert ingest.restarts == 1
        assert alive(second)
    assert not alive(second)
    time.sleep(0.3)  # longer than restart_after_s: nothing is started after stop
    assert started(log) == [first, second]


def test_the_child_dies_with_the_server_process(tmp_path: Path) -> None:
    log = tmp_path / "pids"
    server = textwrap.dedent(
        f"""
        import sys, time
        from runtime.ingest_process import IngestProcess
        IngestProcess([sys.executable, "-c", {CHILD!r}, {str(log)!r}]).start()
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", server])
    try:
        wait_for(lambda: len(started(log)) == 1)
        child = started(log)[0]
        assert alive(child)
    finally:
        parent.kill()
        parent.wait()
    wait_for(lambda: not alive(child))


def test_the_child_yields_the_cores_to_the_api(tmp_path: Path) -> None:
    """It runs ``INGEST_NICENESS`` steps nicer than the server."""
    log = tmp_path / "pids"
    with IngestProcess([sys.executable, "-c", CHILD, str(log)]):
        wait_for(lambda: len(started(log)) == 1)
        child = started(log)[0]
        assert os.getpriority(os.PRIO_PROCESS, child) == min(
            19, os.getpriority(os.PRIO_PROCESS, 0) + INGEST_NICENESS
        )
