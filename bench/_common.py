"""Shared helpers: timing statistics and a scratch data directory."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter

from config import Settings


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Seconds taken by each of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = perf_counter()
        fn()
        times.append(perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


@contextmanager
def scratch_settings(**overrides: object) -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="flightdata-bench-") as tmp:
        yield Settings.from_env({}, data_dir=Path(tmp), **overrides)


def line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}", flush=True)
