"""Ingest of the real 5,485-state global snapshot: parse, validate, store (states/s).

The ratio compares the whole cycle with ``orjson.loads`` of the same bytes, the floor of
any JSON ingest.
"""

from __future__ import annotations

import time

import orjson

from bench._common import line, median, scratch_settings, timed
from ingestion.pipeline import Pipeline
from ingestion.replay import ReplaySource, load_snapshot
from runtime.process import tune_gc
from runtime.stores import open_stores

REPEAT = 15


def run() -> dict[str, float]:
    snapshot = load_snapshot()
    print("ingest: the 5,485-state global OpenSky snapshot, embedded SQLite store")
    with scratch_settings() as settings:
        stores = open_stores(settings)
        pipeline = Pipeline(stores.flights, stores.dead_letters)
        clock = [time.time()]
        replay = ReplaySource(snapshot, clock=lambda: clock[0])

        def cycle_bytes() -> bytes:
            # Each cycle is a new moment, so every state is new to the store.
            clock[0] += 10.0
            return orjson.dumps(replay.advance())

        bodies = [cycle_bytes() for _ in range(REPEAT)]
        it = iter(bodies)
        cycle_times = timed(
            lambda: pipeline.process("replay", orjson.loads(next(it)), replay.normalise), REPEAT
        )
        parse_times = timed(lambda: orjson.loads(bodies[0]), 50)
        stores.close()
    states = len(snapshot["states"])
    per_s = states / median(cycle_times)
    ratio = median(cycle_times) / median(parse_times)
    line("states per cycle", f"{states:,}")
    line("cycle median (parse+validate+store)", f"{median(cycle_times) * 1000:.1f} ms")
    line("throughput", f"{per_s:,.0f} states/s  (floor 20,000)")
    line("orjson.loads of the same bytes", f"{median(parse_times) * 1000:.2f} ms")
    line("ratio cycle / orjson.loads", f"{ratio:.1f}x")
    return {"ingest_states_per_s": per_s, "ingest_ratio_to_orjson": ratio}


if __name__ == "__main__":
    tune_gc()
    run()
