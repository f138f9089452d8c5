"""1,000 WebSocket subscribers (or as many as the first argument says: 5,000) on one API
process while the global snapshot is ingested every cycle: delivery latency, batches
dropped, the server's peak RSS. ``python -m bench.subscriptions [SUBSCRIBERS [CYCLES]]``.

The server is ``flightdata serve`` (embedded default, replay source: the 5,485-aircraft
global snapshot, moved on every cycle; ingest runs in its own process and the API hears of
each cycle from the shared store). Subscribers speak ``graphql-transport-ws`` from
client processes on the same machine, each with a box of its own: centred on a random
aircraft of the snapshot (so boxes follow the traffic, as map views do), 2° to 20° on a
side; about 300 flights a batch on average. Latency is from ``publishedAt`` (the server
stored the cycle and published it) to the moment a client has received its batch and read
its header; both clocks are this machine's. The figures are those of the cycles published
within the run; clients listen ``GRACE_S`` longer, so that a cycle published near the end
is counted for every subscriber or for none. The server runs with its default settings
(no WebSocket compression) except per-client rate limits, which 1,000 connections from
one address would trip.

The same clients then subscribe to a baseline measured in the same run
(``bench._bare_fanout``): a server on the same stack that sends each subscriber its box's
flights encoded when it subscribed, and does nothing else per cycle. Its figures are what
this machine allows any server on that stack; the API's are printed as ratios to them. A
baseline that misses the p99 floor itself says that the floor is out of this machine's
reach, whatever the API does.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import functools
import gc
import math
import multiprocessing
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import orjson
from websockets.asyncio.client import connect

from bench._common import free_port, line, percentile, wait_ready
from config import Settings
from ingestion.reference import seed_airports
from ingestion.replay import ReplaySource, load_snapshot
from runtime.stores import open_stores

SUBSCRIBERS = 1000
CLIENT_PROCESSES = 2
INTERVAL_S = 10.0
CYCLES = 6
# Seconds clients go on listening after the run, for the batches of its last cycle.
GRACE_S = 5.0
# The server's CPU is sampled this often, and counted from this long before a cycle's
# ``publishedAt`` (the API's work on a cycle starts after it).
CPU_EVERY_S = 0.05
CPU_LEAD_S = 0.1
# Clients read a batch's header (the fields selected first) and count its flights instead
# of decoding every state: they share the 2 cores with the server, and decoding is their
# own cost, not delivery's.
_HEADER = re.compile(
    rb'\{"id":"1","type":"next","payload":\{"data":\{"flightUpdates":\{'
    rb'"cycleId":"(?P<cycle>[^"]*)","publishedAt":"(?P<published>[^"]+)",'
    rb'"snapshot":(?P<snapshot>true|false),"droppedBatches":(?P<dropped>\d+)'
)
QUERY = """subscription($bbox: BoundingBoxInput) { flightUpdates(bbox: $bbox) {
  cycleId publishedAt snapshot droppedBatches removed
  flights { icao24 callsign latitude longitude baroAltitudeM velocityMps trueTrackDeg lastContact }
} }"""


def p99_floor_ms(subscribers: int) -> int:
    """The delivery p99 one process must stay under: 500 ms up to 1,000 subscribers,
    1 s up to 5,000."""
    return 500 if subscribers <= 1000 else 1000


def _boxes(n: int, seed: int = 7) -> list[dict[str, float]]:
    source = ReplaySource(load_snapshot())
    rows = [r for r in source.advance()["states"] if r[5] is not None and r[6] is not None]
    rng = random.Random(seed)
    boxes = []
    for _ in range(n):
        row = rng.choice(rows)
        lat, lon = row[6], row[5]
        half_h, half_w = rng.uniform(1, 10), rng.uniform(1, 10)
        boxes.append(
            {
                "south": max(-90.0, lat - half_h),
                "north": min(90.0, lat + half_h),
                "west": max(-180.0, lon - half_w),
                "east": min(180.0, lon + half_w),
            }
        )
    return boxes


async def _subscriber(
    url: str, box: dict[str, float], until: float, out: dict[str, Any], ready: asyncio.Event
) -> None:
    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        max_size=None,
        open_timeout=60,  # thousands connecting at once on a busy machine
    ) as ws:
        await ws.send(orjson.dumps({"type": "connection_init"}).decode())
        assert orjson.loads(await ws.recv())["type"] == "connection_ack"
        message = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": QUERY, "variables": {"bbox": box}},
        }
        await ws.send(orjson.dumps(message).decode())
        # One deadline for the whole stream, and each message's bytes as they came: a
        # client this light spends its share of the cores receiving, not parsing.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.1, until + GRACE_S - time.time())):
                while True:
                    data = await ws.recv(decode=False)
                    received = time.time()
                    header = _HEADER.match(data)
                    if header is None:  # not a batch: an error, or something unexpected
                        out["errors"].append(orjson.loads(data))
                        continue
                    if header["snapshot"] == b"true":
                        ready.set()
                        continue
                    published = _published(header["published"])
                    out["batches"].append(
                        Received(
                            header["cycle"].decode(),
                            published,
                            received - published,
                            int(header["dropped"]),
                            data.count(b'"icao24"'),
                        )
                    )


class Received(NamedTuple):
    """One batch as a client received it."""

    cycle: str
    published: float  # epoch seconds
    latency: float  # seconds
    dropped: int
    flights: int


@functools.lru_cache(maxsize=64)
def _published(value: bytes) -> float:
    """A batch's ``publishedAt`` as epoch seconds; parsed once per cycle, not per batch."""
    return datetime.fromisoformat(value.decode()).timestamp()


def _client_process(
    url: str, boxes: list[dict[str, float]], start: float, until: float, results: Any
) -> None:
    async def run() -> list[dict[str, Any]]:
        outs: list[dict[str, Any]] = [{"batches": [], "errors": []} for _ in boxes]
        readies = [asyncio.Event() for _ in boxes]
        tasks = []
        for box, out, ready in zip(boxes, outs, readies, strict=True):
            tasks.append(asyncio.create_task(_subscriber(url, box, until, out, ready)))
            await asyncio.sleep(max(0.0, start - time.time()) / len(boxes))  # spread connects
        await asyncio.gather(*tasks, return_exceptions=False)
        for out, ready in zip(outs, readies, strict=True):
            out["subscribed"] = ready.is_set()
        return outs

    # No collections in the clients: a full one paused a client's event loop for up to
    # 380 ms with 2,500 connections open, and every batch arriving meanwhile counted the
    # pause as delivery latency. What the clients allocate is freed by reference counting.
    gc.disable()
    results.put(asyncio.run(run()))


def _cpu_s(pid: int) -> float:
    """User and system CPU seconds of process ``pid`` (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_at(samples: list[tuple[float, float]], at: float) -> float:
    """The CPU seconds sampled last before ``at``."""
    i = bisect.bisect_right(samples, at, key=lambda sample: sample[0])
    return samples[max(0, i - 1)][1]


def _peak_rss_mib(pid: int) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return float("nan")


@dataclass(frozen=True)
class Figures:
    """What one server's run measured."""

    latencies: list[float]
    cpu_s: float  # the server process's, over ``cycles`` whole cycle periods
    cycles: int


def run(
    subscribers: int = SUBSCRIBERS,
    cycles: int = CYCLES,
    interval_s: float = INTERVAL_S,
    *,
    baseline: bool = True,
) -> None:
    print(
        f"live subscriptions: {subscribers} WebSocket subscribers, "
        f"global snapshot every {interval_s:g} s",
        flush=True,
    )
    print(" flightdata serve", flush=True)
    served = _run_flightdata(subscribers, cycles, interval_s)
    if not baseline:
        return
    print(
        " baseline: a bare server on the same stack, each batch encoded when its client"
        " subscribed (bench._bare_fanout)",
        flush=True,
    )
    bare = _run_bare(subscribers, cycles, interval_s)
    print(" flightdata against the baseline, measured in this run", flush=True)
    if served.latencies and bare.latencies:
        served_p99, bare_p99 = percentile(served.latencies, 0.99), percentile(bare.latencies, 0.99)
        line("delivery latency p99", f"{served_p99 / bare_p99:.1f} times the baseline's")
        line(
            "API process CPU a subscriber",
            f"{_per_subscriber(served, subscribers) / _per_subscriber(bare, subscribers):.1f}"
            " times the baseline's",
        )
        if bare_p99 * 1000 >= p99_floor_ms(subscribers):
            line("the p99 floor on this machine", "out of reach: the baseline misses it too")


def _per_subscriber(figures: Figures, subscribers: int) -> float:
    return figures.cpu_s / max(1, figures.cycles) / subscribers


def _run_flightdata(subscribers: int, cycles: int, interval_s: float) -> Figures:
    with tempfile.TemporaryDirectory(prefix="flightdata-bench-") as tmp:
        settings = Settings.from_env({}, data_dir=Path(tmp))
        stores = open_stores(settings)
        seed_airports(stores)
        stores.close()
        port = free_port()
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": tmp,
            "FLIGHTDATA_INTERVAL": str(interval_s),
            "LOG_LEVEL": "WARNING",
            # 1,000 connections from one address: per-client rate limits would refuse them.
            "FLIGHTDATA_SECURITY": "false",
        }
        try:
            return _served(
                [sys.executable, "-m", "app", "serve", "--port", str(port)],
                env,
                lambda base: _wait_for_flights(f"{base}/graphql"),
                port,
                subscribers,
                cycles,
                interval_s,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def _run_bare(subscribers: int, cycles: int, interval_s: float) -> Figures:
    port = free_port()
    return _served(
        [sys.executable, "-m", "bench._bare_fanout", str(port), str(interval_s)],
        None,
        lambda base: wait_ready(f"{base}/healthz", timeout_s=60.0),
        port,
        subscribers,
        cycles,
        interval_s,
    )


def _served(
    argv: list[str],
    env: dict[str, str] | None,
    ready: Callable[[str], None],
    port: int,
    subscribers: int,
    cycles: int,
    interval_s: float,
) -> Figures:
    """The figures of the server ``argv`` starts on ``port``, once ``ready`` returns for
    its base URL."""
    server = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ready(f"http://127.0.0.1:{port}")
        return _measure(
            server.pid, f"ws://127.0.0.1:{port}/graphql", subscribers, cycles, interval_s
        )
    finally:
        server.terminate()
        server.wait(10)


def _measure(pid: int, url: str, subscribers: int, cycles: int, interval_s: float) -> Figures:
    boxes = _boxes(subscribers)
    connect_s = 10.0
    start = time.time() + connect_s
    until = start + cycles * interval_s + 1.0
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    per = -(-subscribers // CLIENT_PROCESSES)
    procs = [
        ctx.Process(target=_client_process, args=(url, boxes[i : i + per], start, until, results))
        for i in range(0, subscribers, per)
    ]
    for p in procs:
        p.start()
    # The server process's CPU as the run goes: less at the mercy of the machine's
    # scheduling than latency.
    cpu: list[tuple[float, float]] = []
    while (now := time.time()) < until + GRACE_S:
        cpu.append((now, _cpu_s(pid)))
        time.sleep(CPU_EVERY_S)
    outs: list[dict[str, Any]] = []
    for _ in procs:
        outs.extend(results.get(timeout=until + GRACE_S - time.time() + 120))
    for p in procs:
        p.join(10)
    # The cycles published within the run: each reached every subscriber or is missing.
    runs = [[b for b in o["batches"] if start <= b.published <= until] for o in outs]
    latencies = [b.latency for r in runs for b in r]
    subscribed = sum(o["subscribed"] for o in outs)
    dropped = sum(b.dropped for r in runs for b in r)
    errors = [e for o in outs for e in o["errors"]]
    cycles_seen = {b.cycle for r in runs for b in r}
    complete = sum(len({b.cycle for b in r}) == len(cycles_seen) for r in runs)
    line("subscribers subscribed (first batch received)", f"{subscribed} of {subscribers}")
    line("cycles delivered", f"{len(cycles_seen)}; {complete} subscribers got every one")
    line(
        "batches received",
        f"{len(latencies):,}, {sum(b.flights for r in runs for b in r):,} flight states",
    )
    if latencies:
        line("delivery latency p50", f"{percentile(latencies, 0.5) * 1000:.0f} ms")
        floor_ms = p99_floor_ms(subscribers)
        line(
            "delivery latency p99",
            f"{percentile(latencies, 0.99) * 1000:.0f} ms (floor {floor_ms:,} ms)",
        )
        line("delivery latency max", f"{max(latencies) * 1000:.0f} ms")
    # From just before the first cycle's work to just before the last one's: whole periods,
    # each with one cycle's work in it and the idle time until the next.
    published = sorted({b.published for r in runs for b in r})
    periods = len(published) - 1
    cpu_s = math.nan
    if periods > 0:
        cpu_s = _cpu_at(cpu, published[-1] - CPU_LEAD_S) - _cpu_at(cpu, published[0] - CPU_LEAD_S)
    figures = Figures(latencies, cpu_s, periods)
    line(
        "server process CPU a cycle",
        f"{cpu_s / max(1, periods) * 1000:.0f} ms, "
        f"{_per_subscriber(figures, subscribers) * 1e6:.0f} µs a subscriber",
    )
    line("batches dropped", f"{dropped} (floor 0 for clients that keep up)")
    line("errors", str(len(errors)) + (f": {errors[0]}" if errors else ""))
    line("server peak RSS", f"{_peak_rss_mib(pid):.0f} MiB (floor 1,024 MiB)")
    return figures


def _wait_for_flights(url: str, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            body = httpx.post(url, json={"query": "{ flights { totalCount } }"}, timeout=2).json()
            if body["data"]["flights"]["totalCount"]:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server ingested nothing in time")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.subscriptions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "subscribers", nargs="?", type=int, default=SUBSCRIBERS, help=f"[{SUBSCRIBERS:,}]"
    )
    parser.add_argument("cycles", nargs="?", type=int, default=CYCLES, help=f"[{CYCLES}]")
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="only flightdata serve: to compare two versions of it, run after run",
    )
    args = parser.parse_args(argv)
    run(args.subscribers, args.cycles, baseline=not args.no_baseline)


if __name__ == "__main__":
    main()
