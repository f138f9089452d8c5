"""``flights(first: 1000)`` over a bounding box with more than 1,000 aircraft.

Server time is one ``schema.execute`` including the store read, measured in-process (no
HTTP). The ratio compares it with ``orjson.dumps`` of the same response data.
"""

from __future__ import annotations

import asyncio
import time

import orjson

from bench._common import line, median, p95, scratch_settings
from ingestion.pipeline import Pipeline
from ingestion.replay import ReplaySource
from resolvers.root import build_schema
from runtime.process import tune_gc
from runtime.stores import open_stores
from schema.context import Context, make_loaders

# Most of the world but the Pacific: about 5,000 aircraft in the snapshot.
QUERY = """
query Bench($bbox: BoundingBoxInput) {
  flights(bbox: $bbox, first: 1000) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes {
      icao24 callsign originCountry latitude longitude baroAltitudeM
      velocityMps trueTrackDeg verticalRateMps onGround lastContact source
    }
  }
}
"""
BBOX = {"south": -60.0, "west": -130.0, "north": 75.0, "east": 160.0}
REPEAT = 200


def run() -> dict[str, float]:
    print("flights(first: 1000): 12 fields, bbox with >1,000 aircraft, in-process")
    with scratch_settings() as settings:
        stores = open_stores(settings)
        replay = ReplaySource()
        Pipeline(stores.flights, stores.dead_letters).process(
            "replay", replay.advance(), replay.normalise
        )
        schema = build_schema()

        async def once() -> tuple[float, dict[str, object]]:
            ctx = Context(stores=stores, settings=settings, loaders=make_loaders(stores, settings))
            start = time.perf_counter()
            result = await schema.execute(QUERY, variable_values={"bbox": BBOX}, context_value=ctx)
            elapsed = time.perf_counter() - start
            assert result.errors is None, result.errors
            assert result.data is not None
            return elapsed, result.data

        async def measure() -> tuple[list[float], dict[str, object]]:
            for _ in range(20):
                await once()
            samples = [await once() for _ in range(REPEAT)]
            return [s[0] for s in samples], samples[-1][1]

        times, data = asyncio.run(measure())
        stores.close()
    nodes = data["flights"]["nodes"]  # type: ignore[index]
    total = data["flights"]["totalCount"]  # type: ignore[index]
    dumps = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        orjson.dumps(data)
        dumps.append(time.perf_counter() - start)
    line("aircraft in the box / returned", f"{total:,} / {len(nodes):,}")
    line("server time median", f"{median(times) * 1000:.1f} ms  (floor 30 ms)")
    line("server time p95", f"{p95(times) * 1000:.1f} ms")
    line("orjson.dumps of the same data", f"{median(dumps) * 1000:.2f} ms")
    line("ratio execute / orjson.dumps", f"{median(times) / median(dumps):.0f}x")
    return {
        "flights_median_ms": median(times) * 1000,
        "flights_p95_ms": p95(times) * 1000,
        "flights_ratio_to_orjson": median(times) / median(dumps),
    }


if __name__ == "__main__":
    tune_gc()
    run()
