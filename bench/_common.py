"""Shared helpers: timing statistics, a scratch data directory, a free port and a wait
for a server to answer."""

from __future__ import annotations

import socket
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from time import perf_counter

import httpx

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


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def p95(values: list[float]) -> float:
    return percentile(values, 0.95)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def scratch_settings(**overrides: object) -> Iterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="flightdata-bench-") as tmp:
        yield Settings.from_env({}, data_dir=Path(tmp), **overrides)


def wait_ready(url: str, timeout_s: float = 30.0) -> None:
    """Returns once a GET of ``url`` answers 200; ``RuntimeError`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not become ready")


def line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}", flush=True)
