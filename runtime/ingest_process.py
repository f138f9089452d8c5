"""The ingest loop of ``flightdata serve`` in a process of its own.

A cycle parses, validates and enriches thousands of records in Python: in the API's process
it would hold the interpreter (the GIL) for much of a second and stall every request and
subscriber meanwhile. So ``serve`` runs ``flightdata ingest`` as a child process, and the
API processes learn of each cycle through the cycle channel (Redis pub/sub, or the shared
store: ``runtime.live.build_broadcaster``).

The child is started and stopped with the server, started again when it dies, and on Linux
it gets SIGTERM when the server's process dies, however it dies (util-linux's
``setpriv --pdeathsig``). It runs at a lower priority (``nice``): when the cores are all
busy, the API goes first. Thread-safe: ``start`` and ``stop`` may be called from any thread;
one supervisor thread starts every child, so that the parent-death signal follows a thread
that lives as long as the server.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import TracebackType

log = logging.getLogger(__name__)


def ingest_command(interval_s: float) -> list[str]:
    """``flightdata ingest`` every ``interval_s``, run by this interpreter; the settings
    come from the environment the child inherits."""
    return [sys.executable, "-m", "cli", "ingest", "--every", f"{interval_s:g}"]


def _dies_with_parent(argv: Sequence[str]) -> list[str]:
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    return [*argv] if setpriv is None else [setpriv, "--pdeathsig", "TERM", "--", *argv]


# The child's niceness: when the machine's cores are all busy, the API's requests and
# subscribers go first and the ingest cycle, which has seconds to spare, waits.
INGEST_NICENESS = 10


def _yields_to_the_api(argv: Sequence[str]) -> list[str]:
    nice = shutil.which("nice") if sys.platform != "win32" else None
    return [*argv] if nice is None else [nice, "-n", str(INGEST_NICENESS), *argv]


class IngestProcess:
    """One child process running ``argv``, kept running until ``stop``."""

    def __init__(self, argv: Sequence[str], *, restart_after_s: float = 1.0) -> None:
        self.argv = _dies_with_parent(_yields_to_the_api(argv))
        self.restart_after_s = restart_after_s
        self.restarts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        with self._lock:
            return None if self._process is None else self._process.pid

    def start(self) -> IngestProcess:
        """Start the child (and its supervisor); returns once the child is running."""
        self._thread = threading.Thread(
            target=self._supervise, name="ingest-supervisor", daemon=True
        )
        self._thread.start()
        self._started.wait()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the child (SIGKILL after ``timeout_s``) and keep it stopped."""
        with self._lock:
            self._stopping.set()
            process = self._process
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout_s)
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _supervise(self) -> None:
        while True:
            with self._lock:
                if self._stopping.is_set():
                    break
                # A session of its own: a terminal's Ctrl-C reaches the server, which stops it.
                process = self._process = subprocess.Popen(self.argv, start_new_session=True)
            self._started.set()
            code = process.wait()
            if self._stopping.wait(0) or self._stopping.wait(self.restart_after_s):
                break
            self.restarts += 1
            log.warning("the ingest process exited with %s; starting it again", code)
        self._started.set()

    def __enter__(self) -> IngestProcess:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
