"""Micro-benchmark: 1,000 objects x 10 plain scalar fields, default vs fast executor.

Run from the repository root::

    python -m bench.executor_micro [--repeat 50]

Prints, for two 10-field selections (8 built-in scalars + an enum + a DateTime, and
10 built-in scalars), the median wall time in ms of Strawberry's ``execute_sync`` and
``execute`` (parse + validate + execute; async runs share one event loop) and of
graphql-core's bare ``execute`` on a pre-parsed document (execution only), each with
Strawberry's default execution context and with ``FastExecutionContext``. Exits non-zero
if the two executors' results differ.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import strawberry
from graphql import execute, parse
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from schema._executor import FastExecutionContext

N_ITEMS = 1_000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@strawberry.enum
class Status(enum.Enum):
    AIRBORNE = "airborne"
    LANDED = "landed"


@strawberry.type
class Flight:
    icao24: str
    callsign: str | None
    origin_country: str
    latitude: float | None
    longitude: float | None
    altitude: int | None
    velocity: float
    on_ground: bool
    status: Status
    last_contact: datetime


FLIGHTS = [
    Flight(
        icao24=f"{i:06x}",
        callsign=None if i % 7 == 0 else f"CS{i:04d}",
        origin_country="Germany",
        latitude=45.0 + i / 1000,
        longitude=None if i % 5 == 0 else 7.5 - i / 1000,
        altitude=1000 + i,
        velocity=i / 3,
        on_ground=i % 4 == 0,
        status=Status.LANDED if i % 4 == 0 else Status.AIRBORNE,
        last_contact=EPOCH + timedelta(seconds=i),
    )
    for i in range(N_ITEMS)
]


@strawberry.type
class Query:
    @strawberry.field
    def flights(self) -> list[Flight]:
        return FLIGHTS


QUERIES = {
    "8 scalars + enum + DateTime": """{ flights { icao24 callsign originCountry latitude
      longitude altitude velocity onGround status lastContact } }""",
    "10 built-in scalars": """{ flights { icao24 callsign originCountry latitude
      longitude altitude velocity onGround id: icao24 alt: altitude } }""",
}

DEFAULT = strawberry.Schema(Query)
FAST = strawberry.Schema(Query, execution_context_class=FastExecutionContext)


def _median_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = run()  # warm-up, and the value to compare
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


Run = Callable[[], Any]


def _cases(query: str, loop: asyncio.AbstractEventLoop) -> dict[str, tuple[Run, Run]]:
    document = parse(query)

    def core(executor_class: type[Any]) -> Run:
        # `execute` is synchronous here: every resolver is.
        return lambda: execute(DEFAULT._schema, document, executor_class=executor_class)

    return {
        "strawberry execute_sync": (
            lambda: DEFAULT.execute_sync(query),
            lambda: FAST.execute_sync(query),
        ),
        "strawberry execute (async)": (
            lambda: loop.run_until_complete(DEFAULT.execute(query)),
            lambda: loop.run_until_complete(FAST.execute(query)),
        ),
        "graphql-core execute only": (
            core(StrawberryGraphQLCoreExecutionContext),
            core(FastExecutionContext),
        ),
    }


def _report(cases: dict[str, tuple[Run, Run]], repeat: int) -> None:
    for name, (default_run, fast_run) in cases.items():
        default_ms, default_result = _median_ms(default_run, repeat)
        fast_ms, fast_result = _median_ms(fast_run, repeat)
        if (default_result.data, default_result.errors) != (fast_result.data, fast_result.errors):
            raise SystemExit(f"{name}: results differ")
        print(
            f"  {name:28s} default {default_ms:7.2f} ms   fast {fast_ms:6.2f} ms"
            f"   x{default_ms / fast_ms:.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50)
    repeat = parser.parse_args().repeat

    # One loop for all async runs, so loop start-up is not part of the measurement.
    loop = asyncio.new_event_loop()
    try:
        for label, query in QUERIES.items():
            print(f"{N_ITEMS} objects x {label}, median of {repeat} runs")
            _report(_cases(query, loop), repeat)
    finally:
        loop.close()


if __name__ == "__main__":
    main()
