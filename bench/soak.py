"""A soak of ``flightdata serve`` as a live map uses it: ``python -m bench.soak``.

The server runs with the replay source (the 5,485-aircraft global snapshot, about 5,400
live) every ``--interval`` seconds and Redis (a server of our own on a free port). For
``--duration`` seconds (10 minutes by default) it gets ``--rate`` GraphQL queries a second,
a mix of ``flight(icao24:)``, ``flights(first: 500)``, ``flights(bbox:)`` and the live
analytics, sent open-loop (a slow answer does not slow the load), and a tenth as many
``{ __typename }`` on top, the baseline each operation's p99 is read against, while
``--subscribers`` WebSocket clients follow ``flightUpdates`` in boxes of their own. Part
way through, Redis is restarted once (at 30 % of the run) and the ingest process is killed
once (at 60 %).

It prints the server's RSS (every process of it) every 10 s and its peak sampled every
0.5 s (a Parquet flush lifts the ingest process for a few seconds), then the error rate, the
latency percentiles of each operation, and the batches each subscriber received against
the cycles the store recorded while it listened, each beside its floor. The load
generators run on the same machine and share its cores with the server.

``--python`` runs the server with another interpreter, e.g. one whose environment holds the
runtime dependencies alone (``requirements.lock``), as ``make run`` installs them on a new
machine: with the dev extra installed, pyarrow imports pandas (45 MiB) on the ingest
process's first Parquet flush.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from websockets.asyncio.client import connect

from bench._common import free_port, line, percentile
from bench.subscriptions import _HEADER, QUERY, _boxes, _wait_for_flights
from devtools.redis_server import RedisServer
from ingestion.replay import load_snapshot

RSS_FLOOR_MIB = 400.0
SAMPLE_EVERY_S = 10.0
# The peak is sampled more often: a Parquet flush lifts the ingest process for a few
# seconds, which lines 10 s apart mostly miss.
PEAK_EVERY_S = 0.5
# An answer sent this soon after an event (Redis restarted, the ingest process killed)
# is counted as following it, in the report of the slowest answers.
AFTER_EVENT_S = 10.0
OPERATIONS: dict[str, tuple[float, float, str]] = {
    # name: (share of the queries, p99 floor in ms, query)
    "flight(icao24)": (
        0.40,
        50.0,
        "query($id: String!) { flight(icao24: $id) "
        "{ icao24 callsign latitude longitude baroAltitudeM trueTrackDeg } }",
    ),
    "flights(first: 500)": (
        0.15,
        50.0,
        "{ flights(first: 500) { totalCount pageInfo { endCursor } "
        "nodes { icao24 callsign latitude longitude baroAltitudeM trueTrackDeg } } }",
    ),
    "flights(bbox)": (
        0.15,
        50.0,
        "query($bbox: BoundingBoxInput!) { flights(bbox: $bbox, first: 500) { totalCount "
        "nodes { icao24 callsign latitude longitude baroAltitudeM trueTrackDeg } } }",
    ),
    "analytics.regionCounts": (
        0.10,
        100.0,
        "{ analytics { regionCounts { aircraft regions { region aircraft } } } }",
    ),
    "analytics.countryCounts": (
        0.10,
        100.0,
        "{ analytics { countryCounts { aircraft countries { country aircraft } } } }",
    ),
    "analytics.altitudeHistogram": (
        0.10,
        100.0,
        "{ analytics { altitudeHistogram(bucketM: 1000) { buckets { lowM aircraft } } } }",
    ),
}
# Sent on top of the mix, at this share of ``--rate``: a query that does no work of its
# own, so that its latency is what any request waits for on this machine under this load
# (the event loop, the middleware, GraphQL's parse and validation). Each operation's p99
# is also printed as a ratio to it: the figures of two machines compare by those ratios.
BASELINE = ("{ __typename } (baseline)", 0.10, "{ __typename }")


# --- the server's processes ---


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _tree(pid: int) -> list[int]:
    pids = [pid]
    for child in _children(pid):
        pids.extend(_tree(child))
    return pids


def _rss_mib(pid: int) -> float:
    try:
        for row in Path(f"/proc/{pid}/status").read_text().splitlines():
            if row.startswith("VmRSS:"):
                return int(row.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class _PeakRss(threading.Thread):
    """The largest total RSS of the server's processes, sampled every ``PEAK_EVERY_S``
    until ``stop``, and when it was."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak, self.at = 0.0, 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(PEAK_EVERY_S):
            total = sum(_rss_mib(p) for p in _tree(self.pid))
            if total > self.peak:
                self.peak, self.at = total, time.time()

    def stop(self) -> None:
        self._done.set()
        self.join()


def _ingest_pid(server: int) -> int | None:
    """The server's ingest process (``flightdata ingest``), if it runs one."""
    for pid in _tree(server)[1:]:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ingest" in argv:
            return pid
    return None


# --- the load ---


def _queries(url: str, rate: float, start: float, until: float, seed: int, results: Any) -> None:
    rng = random.Random(seed)
    states = load_snapshot()["states"]
    icaos = [row[0] for row in states]
    boxes = _boxes(64, seed)
    names = list(OPERATIONS)
    weights = [OPERATIONS[n][0] for n in names]
    done: list[tuple[str, float, float, str | None]] = []

    queries = {name: query for name, (_, _, query) in OPERATIONS.items()}
    queries[BASELINE[0]] = BASELINE[2]

    async def one(client: httpx.AsyncClient, name: str, variables: dict[str, Any]) -> None:
        sent = time.time()
        error = None
        try:
            response = await client.post(url, json={"query": queries[name], "variables": variables})
            if response.status_code != 200:
                error = f"HTTP {response.status_code}: {response.text[:200]}"
            elif "errors" in (body := response.json()):
                error = f"{body['errors'][0].get('message')!r}"
        except httpx.HTTPError as exc:
            error = repr(exc)
        done.append((name, sent, time.time() - sent, error))

    def mixed() -> tuple[str, dict[str, Any]]:
        name = rng.choices(names, weights)[0]
        if name == "flight(icao24)":
            return name, {"id": rng.choice(icaos)}
        if name == "flights(bbox)":
            return name, {"bbox": rng.choice(boxes)}
        return name, {}

    async def open_loop(
        client: httpx.AsyncClient, per_s: float, pick: Callable[[], tuple[str, dict[str, Any]]]
    ) -> None:
        """``per_s`` queries a second from ``start`` to ``until``, each sent when it is due
        whether or not the ones before have been answered."""
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while (due := start + n / per_s) < until:
            await asyncio.sleep(max(0.0, due - time.time()))
            task = asyncio.create_task(one(client, *pick()))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            n += 1
        await asyncio.gather(*tasks)

    async def run() -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(timeout=10, limits=limits) as client:
            await asyncio.sleep(max(0.0, start - time.time()))
            await asyncio.gather(
                open_loop(client, rate, mixed),
                open_loop(client, rate * BASELINE[1], lambda: (BASELINE[0], {})),
            )

    asyncio.run(run())
    results.put(("queries", done))


async def _subscriber(url: str, box: dict[str, float], until: float, out: dict[str, Any]) -> None:
    async with connect(url, subprotocols=["graphql-transport-ws"], max_size=None) as ws:  # type: ignore[list-item]
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": QUERY, "variables": {"bbox": box}},
        }
        await ws.send(orjson.dumps(message).decode())
        while time.time() < until:
            try:
                raw = await asyncio.wait_for(ws.recv(), max(0.1, until - time.time()))
            except TimeoutError:
                break
            data = raw if isinstance(raw, bytes) else raw.encode()
            header = _HEADER.match(data)
            if header is None:
                out["errors"] += 1
                continue
            out["dropped"] += int(header["dropped"])
            if header["snapshot"] == b"true":
                out["snapshots"] += 1
                out["since"] = out["since"] or time.time()
                continue
            out["cycles"].append(header["cycle"].decode())
            published = datetime.fromisoformat(header["published"].decode()).timestamp()
            out["latencies"].append(time.time() - published)


def _subscribers(url: str, boxes: list[dict[str, float]], until: float, results: Any) -> None:
    outs: list[dict[str, Any]] = [
        {"cycles": [], "latencies": [], "dropped": 0, "snapshots": 0, "errors": 0, "since": 0.0}
        for _ in boxes
    ]

    async def guarded(box: dict[str, float], out: dict[str, Any]) -> None:
        try:
            await _subscriber(url, box, until, out)
        except Exception as exc:  # a dropped connection: counted, the others go on
            out["errors"] += 1
            out["failure"] = repr(exc)

    async def run() -> None:
        tasks = []
        for box, out in zip(boxes, outs, strict=True):
            tasks.append(asyncio.create_task(guarded(box, out)))
            await asyncio.sleep(0.05)
        await asyncio.gather(*tasks)

    asyncio.run(run())
    results.put(("subscribers", outs))


# --- the run ---


def _cycles(base: str) -> list[tuple[str, float]]:
    query = "{ pipelineStatus { cycles(last: 1000) { cycleId finishedAt error } } }"
    body = httpx.post(f"{base}/graphql", json={"query": query}, timeout=30).json()
    return [
        (c["cycleId"], datetime.fromisoformat(c["finishedAt"]).timestamp())
        for c in body["data"]["pipelineStatus"]["cycles"]
        if c["finishedAt"] and not c["error"]
    ]


def _floor(value: float, floor: float, *, below: bool = True) -> str:
    met = value < floor if below else value >= floor
    return "ok" if met else "MISSED"


def _report_queries(
    done: list[tuple[str, float, float, str | None]], events: list[tuple[float, str]]
) -> None:
    failed = [(name, error) for name, _, _, error in done if error is not None]
    rate = len(failed) / len(done) if done else 1.0
    line(
        "queries, errors",
        f"{len(done):,}, {len(failed)} ({rate:.2%}; floor 0.1 %) {_floor(rate, 0.001)}",
    )
    if failed:
        line("first error", f"{failed[0][0]}: {failed[0][1]}")

    def took(name: str) -> list[float]:
        return [t * 1000 for n, _, t, error in done if n == name and error is None]

    def spread(times: list[float]) -> str:
        return (
            f"p50 {percentile(times, 0.5):.0f}  p95 {percentile(times, 0.95):.0f}  "
            f"p99 {percentile(times, 0.99):.0f} ms  (n {len(times)}"
        )

    base = took(BASELINE[0])
    base_p99 = percentile(base, 0.99) if base else None
    line(BASELINE[0], f"{spread(base)})" if base else "no answers")
    for name, (_, floor_ms, _) in OPERATIONS.items():
        times = took(name)
        if not times:
            line(name, "no answers")
            continue
        p99 = percentile(times, 0.99)
        ratio = "" if not base_p99 else f"; p99/baseline {p99 / base_p99:.1f}"
        line(
            name,
            f"{spread(times)}; floor p99 {floor_ms:.0f} ms{ratio}) {_floor(p99, floor_ms)}",
        )
    # Where the tail falls: the slowest 1 % of the answers, by the event they followed.
    answered = sorted((t, sent) for _, sent, t, error in done if error is None)
    slowest = answered[len(answered) - max(1, len(answered) // 100) :]
    if slowest:
        after = {
            event: sum(at <= sent < at + AFTER_EVENT_S for _, sent in slowest)
            for at, event in events
        }
        line(
            f"slowest 1 % ({len(slowest)}, from {slowest[0][0] * 1000:.0f} ms)",
            "; ".join(f"{n} within {AFTER_EVENT_S:g} s of: {e}" for e, n in after.items())
            or "no event",
        )


def _report_subscribers(outs: list[dict[str, Any]], cycles: list[tuple[str, float]]) -> None:
    ratios = []
    seen = {c for o in outs for c in o["cycles"]}
    last = max([0.0, *(t for c, t in cycles if c in seen)])
    for out in outs:
        expected = {c for c, t in cycles if out["since"] and out["since"] < t <= last}
        got = expected.intersection(out["cycles"])
        ratios.append(len(got) / len(expected) if expected else 0.0)
    if not outs:
        return
    subscribed = sum(bool(o["since"]) for o in outs)
    latencies = [x for o in outs for x in o["latencies"]]
    line("subscribers subscribed", f"{subscribed} of {len(outs)}")
    line(
        "batches received / cycles recorded",
        f"min {min(ratios):.1%}, median {percentile(ratios, 0.5):.1%} "
        f"(floor 95 % each) {_floor(min(ratios), 0.95, below=False)}",
    )
    line(
        "resync snapshots, droppedBatches",
        f"{sum(o['snapshots'] - 1 for o in outs if o['snapshots'])}, "
        f"{sum(o['dropped'] for o in outs)}",
    )
    if latencies:
        p50, p99 = (percentile(latencies, q) * 1000 for q in (0.5, 0.99))
        line("delivery latency p50 / p99", f"{p50:.0f} / {p99:.0f} ms")
    failures = [o["failure"] for o in outs if "failure" in o]
    line(
        "subscriber errors",
        f"{sum(o['errors'] for o in outs)}" + (f": {failures[0]}" if failures else ""),
    )


def _wait(seconds: float) -> None:
    time.sleep(max(0.0, seconds))


def run(
    duration_s: float,
    subscribers: int,
    rate: float,
    interval_s: float,
    *,
    redis: bool = True,
    in_process: bool = False,
    python: str = sys.executable,
    record: Path | None = None,
) -> None:
    print(
        f"soak: {duration_s:g} s, {rate:g} queries/s, {subscribers} subscribers, "
        f"replay every {interval_s:g} s, "
        + ("Redis restarted once, " if redis else "no Redis, ")
        + ("ingest in the API process" if in_process else "ingest killed once")
        + f", server on {python}",
        flush=True,
    )
    server_redis = RedisServer().start() if redis else None
    with tempfile.TemporaryDirectory(prefix="flightdata-soak-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": tmp,
            "FLIGHTDATA_INTERVAL": str(interval_s),
            "LOG_LEVEL": "WARNING",
            # One client address at this rate: per-client quotas would refuse it.
            "FLIGHTDATA_SECURITY": "false",
        }
        if server_redis is not None:
            env["REDIS_URL"] = server_redis.url()
        serve = ["-m", "app", "serve", "--port", str(port)]
        if in_process:  # for comparison: the app ingesting in its own process
            serve = ["-m", "uvicorn", "--factory", "app:create_app", "--port", str(port)]
        server = subprocess.Popen(
            [python, *serve],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            _wait_for_flights(f"{base}/graphql")
            _soak(server.pid, base, server_redis, duration_s, subscribers, rate, record)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(20)
            if server_redis is not None:
                server_redis.stop()


def _soak(
    pid: int,
    base: str,
    redis: RedisServer | None,
    duration_s: float,
    subscribers: int,
    rate: float,
    record: Path | None,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = time.time() + 10.0  # subscribers connect first
    until = start + duration_s
    ws_url = base.replace("http", "ws", 1) + "/graphql"
    procs = [
        ctx.Process(target=_subscribers, args=(ws_url, _boxes(subscribers), until + 2, results)),
        ctx.Process(target=_queries, args=(f"{base}/graphql", rate, start, until, 11, results)),
    ]
    for proc in procs:
        proc.start()
    events = [(0.3, "restart Redis")] if redis is not None else []
    events.append((0.6, "kill the ingest process"))
    happened: list[tuple[float, str]] = []
    _wait(start - time.time())
    peak = _PeakRss(pid)
    peak.start()
    while (now := time.time()) < until:
        while events and now - start >= events[0][0] * duration_s:
            _, event = events.pop(0)
            happened.append((time.time(), event))
            if redis is not None and event == "restart Redis":
                redis.stop()
                _wait(3.0)
                redis.start()
                line(f"t={now - start:4.0f} s", "Redis stopped for 3 s and started again")
            else:
                ingest = _ingest_pid(pid)
                if ingest is None:
                    line(f"t={now - start:4.0f} s", "no separate ingest process to kill")
                else:
                    os.kill(ingest, signal.SIGKILL)
                    line(f"t={now - start:4.0f} s", f"ingest process {ingest} killed")
        pids = _tree(pid)
        per = [_rss_mib(p) for p in pids]
        line(
            f"t={now - start:4.0f} s RSS",
            f"{sum(per):.0f} MiB in {len(pids)} processes ({' + '.join(f'{r:.0f}' for r in per)}; "
            f"floor {RSS_FLOOR_MIB:.0f}) {_floor(sum(per), RSS_FLOOR_MIB)}",
        )
        _wait(min(SAMPLE_EVERY_S, until - time.time()))
    peak.stop()
    line(
        f"RSS peak, every {PEAK_EVERY_S:g} s",
        f"{peak.peak:.0f} MiB at t={peak.at - start:.0f} s (floor {RSS_FLOOR_MIB:.0f}) "
        + _floor(peak.peak, RSS_FLOOR_MIB),
    )
    got = dict(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(10)
    _report_queries(got["queries"], happened)
    if record is not None:
        with record.open("wb") as out:
            for event_at, event in happened:
                out.write(orjson.dumps({"event": event, "at": event_at}) + b"\n")
            for name, sent, took, error in got["queries"]:
                out.write(
                    orjson.dumps({"operation": name, "sent": sent, "took": took, "error": error})
                    + b"\n"
                )
    _report_subscribers(got["subscribers"], _cycles(base))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (600)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=30.0, help="queries a second (30)")
    parser.add_argument("--interval", type=float, default=5.0, help="ingest cycle, s (5)")
    parser.add_argument(
        "--no-redis", action="store_true", help="the embedded default alone, as make run serves"
    )
    parser.add_argument(
        "--in-process", action="store_true", help="ingest inside the API process, to compare"
    )
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter")
    parser.add_argument(
        "--record",
        type=Path,
        help="write the events and every answer (operation, sent, seconds taken, error) "
        "to this file, a JSON object a line",
    )
    args = parser.parse_args(argv)
    run(
        args.duration,
        args.subscribers,
        args.rate,
        args.interval,
        redis=not args.no_redis,
        in_process=args.in_process,
        python=args.python,
        record=args.record,
    )


if __name__ == "__main__":
    main()
