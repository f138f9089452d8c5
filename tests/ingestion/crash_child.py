"""``flightdata ingest --once`` that kills itself with SIGKILL at a named point of a cycle.

Run as ``python crash_child.py POINT RECORDING`` with ``FLIGHTDATA_DATA_DIR`` set; used by
``test_crash_safety.py``. The points wrap the real methods, so everything else is the
command as shipped:

- ``none``: no kill.
- ``before_process``: the body is archived, the pipeline has not started.
- ``after_states``: the states are written, in the cycle's transaction.
- ``before_report``: the states and dead letters are written, the report is not.
- ``before_parquet``: the cycle is committed, its states wait for Parquet.
- ``during_parquet``: one Parquet file is written, the flush is not finished.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from cli import main
from ingestion.pipeline import Pipeline
from storage.processed import LocalSink, ProcessedWriter
from storage.sqlite import SqliteCycleRepository, SqliteFlightRepository


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def patch(owner: type, name: str, *, before: Callable[..., bool] | None = None) -> None:
    """Kill at ``owner.name``: before it runs when ``before`` says so, else after it."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if before is not None:
            if before(self):
                die()
            return original(self, *args, **kwargs)
        result = original(self, *args, **kwargs)
        die()
        return result

    setattr(owner, name, wrapper)


def always(_: object) -> bool:
    return True


def has_pending(writer: ProcessedWriter) -> bool:
    staging = writer.staging
    assert staging is not None
    return int(staging.pending()) > 0  # type: ignore[attr-defined]


POINTS: dict[str, Callable[[], None]] = {
    "none": lambda: None,
    "before_process": lambda: patch(Pipeline, "process", before=always),
    "after_states": lambda: patch(SqliteFlightRepository, "put_states"),
    "before_report": lambda: patch(SqliteCycleRepository, "put_cycle", before=always),
    "before_parquet": lambda: patch(ProcessedWriter, "flush", before=has_pending),
    "during_parquet": lambda: patch(LocalSink, "write"),
}

if __name__ == "__main__":
    point, recording = sys.argv[1:3]
    POINTS[point]()
    main(["ingest", "--source", f"file:{recording}", "--once"])
