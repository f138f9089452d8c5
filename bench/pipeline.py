"""The whole ingest pipeline, end to end on the embedded default.

Per cycle: archive the raw body, parse it, validate, enrich, store (history, latest
states, route legs) and buffer for Parquet; states/s counts the records received. Run on
the real 5,485-state global snapshot and on a 20,000-state global snapshot derived from it
(every real state copied with a new address and its position moved east, so that the
shape of the traffic is real but there is more of it).

Then the time from the end of a fetch until the API, a separate server process over the
same store, answers with the new positions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from bench._common import free_port, line, median, scratch_settings
from ingestion.reference import seed_airports
from ingestion.replay import ReplaySource, load_snapshot
from runtime.ingest import build_pipeline
from runtime.process import tune_gc
from runtime.stores import open_stores

CYCLES = 6
DERIVED_SIZE = 20_000


def derived_snapshot(size: int = DERIVED_SIZE) -> dict[str, Any]:
    """The real snapshot, copied with new addresses and moved east, up to ``size`` states."""
    real = load_snapshot()
    rows: list[list[Any]] = [list(r) for r in real["states"]]
    seen = {r[0] for r in rows}
    copy = 1
    while len(rows) < size:
        for row in real["states"]:
            code = f"{(int(row[0], 16) + copy * 0x15F3B) % 0x1000000:06x}"
            if code in seen:
                continue
            seen.add(code)
            new = list(row)
            new[0] = code
            if new[5] is not None:
                new[5] = (new[5] + 180.0 + copy * 7.0) % 360.0 - 180.0
            rows.append(new)
            if len(rows) == size:
                break
        copy += 1
    return {"time": real["time"], "states": rows}


def _cycles(snapshot: dict[str, Any], label: str) -> float:
    with scratch_settings() as settings:
        stores = open_stores(settings)
        seed_airports(stores)
        pipeline = build_pipeline(settings, stores, None)
        clock = [time.time() - 10.0 * CYCLES]
        replay = ReplaySource(snapshot, clock=lambda: clock[0])
        times = []
        received = 0
        for _ in range(CYCLES + 1):
            clock[0] += 10.0
            body = orjson.dumps(replay.advance())
            start = time.perf_counter()
            key = stores.archive.put(body, source="replay", received_at=datetime.now(UTC))
            report = pipeline.process(
                "replay", orjson.loads(body), replay.normalise, archive_key=key
            )
            times.append(time.perf_counter() - start)
            received = report.received
            assert report.balanced
        stores.close()
    # The first cycle also loads the airport index and primes enrichment: reported apart.
    steady = median(times[1:])
    line(f"{label}: first cycle", f"{times[0] * 1000:.0f} ms")
    line(f"{label}: cycle median", f"{steady * 1000:.0f} ms for {received:,} states")
    line(f"{label}: throughput", f"{received / steady:,.0f} states/s  (floor 15,000)")
    return received / steady


def _visible_after_fetch() -> list[float]:
    """Seconds from the end of each fetch until the API serves the moved aircraft."""
    query = '{ flight(icao24: "4ca7b5") { longitude } }'
    with scratch_settings() as settings:
        stores = open_stores(settings)
        seed_airports(stores)
        pipeline = build_pipeline(settings, stores, None)
        replay = ReplaySource()
        pipeline.process("replay", replay.advance(), replay.normalise)
        port = free_port()
        env = {
            **os.environ,
            "FLIGHTDATA_DATA_DIR": str(settings.data_dir),
            "FLIGHTDATA_INGEST": "false",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        lags = []
        try:
            url = f"http://127.0.0.1:{port}/graphql"
            with httpx.Client(timeout=5) as client:
                _wait(client, url, query)
                for _ in range(CYCLES):
                    time.sleep(1.0)
                    body = orjson.dumps(replay.advance())
                    fetched = time.perf_counter()  # the fetch ends here
                    payload = orjson.loads(body)
                    moved = next(r[5] for r in payload["states"] if r[0] == "4ca7b5")
                    key = stores.archive.put(body, source="replay", received_at=datetime.now(UTC))
                    pipeline.process("replay", payload, replay.normalise, archive_key=key)
                    while True:
                        answer = client.post(url, json={"query": query}).json()
                        if answer["data"]["flight"]["longitude"] == moved:
                            lags.append(time.perf_counter() - fetched)
                            break
        finally:
            server.terminate()
            server.wait(10)
            stores.close()
    return lags


def _wait(client: httpx.Client, url: str, query: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.post(url, json={"query": query}).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API server did not start")


def run() -> dict[str, float]:
    print("pipeline: archive, parse, validate, enrich, store, Parquet buffer; embedded SQLite")
    real = _cycles(load_snapshot(), "real 5,485")
    derived = _cycles(derived_snapshot(), "derived 20,000")
    lags = _visible_after_fetch()
    line("fetch end -> API serves new position, median", f"{median(lags) * 1000:.0f} ms")
    line("fetch end -> API serves new position, max", f"{max(lags) * 1000:.0f} ms  (floor 1 s)")
    return {
        "pipeline_real_states_per_s": real,
        "pipeline_derived_states_per_s": derived,
        "visible_median_s": median(lags),
        "visible_max_s": max(lags),
    }


if __name__ == "__main__":
    tune_gc()
    run()
