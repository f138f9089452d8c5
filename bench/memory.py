"""Memory of ``flightdata serve`` on the replay source: ``python -m bench.memory``.

The server runs as ``make run`` serves it (the embedded default, ingest in a child
process) with the replay source (the 5,485-aircraft snapshot, about 5,400 live) every
``--interval`` seconds, for ``--cycles`` cycles after the first flights are stored, under a
modest load: ``--subscribers`` ``flightUpdates`` subscribers and ``--rate`` mixed GraphQL
queries a second (the soak's clients, ``bench.soak``). Every ``--every`` seconds it prints
the resident size of the API process and of the ingest process, then the peak and the
steady total (the median of the second half of the samples) against the 400 MiB floor.

``--python`` runs the server with another interpreter, e.g. one whose environment holds the
runtime dependencies alone (``requirements.lock``), as ``make run`` installs them.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from bench._common import free_port, line
from bench.soak import RSS_FLOOR_MIB, _floor, _ingest_pid, _queries, _rss_mib, _subscribers
from bench.subscriptions import _boxes, _wait_for_flights


def _sample(server: int) -> tuple[float, float]:
    """RSS in MiB of the API process and of the ingest process (0 while none runs)."""
    ingest = _ingest_pid(server)
    return _rss_mib(server), 0.0 if ingest is None else _rss_mib(ingest)


def run(
    cycles: int,
    subscribers: int,
    rate: float,
    interval_s: float,
    every_s: float,
    python: str,
) -> tuple[float, float]:
    """Runs the server under load; returns the peak and the steady total in MiB."""
    duration_s = cycles * interval_s
    print(
        f"memory: {cycles} cycles of {interval_s:g} s, {subscribers} subscribers, "
        f"{rate:g} queries/s, server on {python}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="flightdata-memory-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": tmp,
            "FLIGHTDATA_SOURCE": "replay",
            "FLIGHTDATA_INTERVAL": str(interval_s),
            "LOG_LEVEL": "WARNING",
            "FLIGHTDATA_SECURITY": "false",  # one client address at this rate
        }
        env.pop("REDIS_URL", None)
        server = subprocess.Popen(
            [python, "-m", "app", "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL
        )
        try:
            line("started", "API {:.0f} + ingest {:.0f} MiB".format(*_sample(server.pid)))
            _wait_for_flights(f"{base}/graphql")
            line("first flights", "API {:.0f} + ingest {:.0f} MiB".format(*_sample(server.pid)))
            totals = _load(server.pid, base, duration_s, subscribers, rate, every_s)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
    peak = max(totals)
    steady = statistics.median(totals[len(totals) // 2 :])
    line("peak, all processes", f"{peak:.0f} MiB {_floor(peak, RSS_FLOOR_MIB)}")
    line("steady, all processes", f"{steady:.0f} MiB {_floor(steady, RSS_FLOOR_MIB)}")
    return peak, steady


def _load(
    pid: int, base: str, duration_s: float, subscribers: int, rate: float, every_s: float
) -> list[float]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = time.time() + 5.0  # subscribers connect first
    until = start + duration_s
    ws_url = base.replace("http", "ws", 1) + "/graphql"
    procs = []
    if subscribers:
        procs.append(
            ctx.Process(target=_subscribers, args=(ws_url, _boxes(subscribers), until, results))
        )
    if rate:
        procs.append(
            ctx.Process(target=_queries, args=(f"{base}/graphql", rate, start, until, 7, results))
        )
    for proc in procs:
        proc.start()
    totals: list[float] = []
    time.sleep(max(0.0, start - time.time()))
    while (now := time.time()) < until:
        api, ingest = _sample(pid)
        totals.append(api + ingest)
        line(
            f"t={now - start:4.0f} s RSS",
            f"{api + ingest:.0f} MiB (API {api:.0f} + ingest {ingest:.0f})",
        )
        time.sleep(max(0.0, min(every_s, until - time.time())))
    got = dict(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(10)
    if "queries" in got:
        failed = sum(1 for *_, error in got["queries"] if error is not None)
        line("queries", f"{len(got['queries'])} sent, {failed} failed")
    if "subscribers" in got:
        received = sum(len(out["cycles"]) for out in got["subscribers"])
        line("subscriber batches", f"{received} received by {subscribers} subscribers")
    return totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--cycles", type=int, default=24, help="ingest cycles under load (24)")
    parser.add_argument("--interval", type=float, default=5.0, help="ingest cycle, s (5)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0, help="queries a second (10)")
    parser.add_argument("--every", type=float, default=5.0, help="seconds between samples (5)")
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter")
    args = parser.parse_args(argv)
    run(args.cycles, args.subscribers, args.rate, args.interval, args.every, args.python)


if __name__ == "__main__":
    main()
