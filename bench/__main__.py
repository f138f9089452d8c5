"""Runs every benchmark and prints its figures: ``python -m bench`` (``make bench``)."""

from __future__ import annotations

import platform

from bench import (
    analytics,
    appsync,
    auth_overhead,
    aws_local,
    dashboard,
    flights_query,
    http_flight,
    ingest,
    pipeline,
    subscriber_path,
    subscriptions,
)
from runtime.process import tune_gc


def main() -> None:
    tune_gc()  # as the service does at start-up
    print(
        f"flightdata benchmarks: Python {platform.python_version()} on {platform.machine()}, "
        f"{platform.processor() or 'unknown cpu'}",
        flush=True,
    )
    for bench in (
        ingest,
        pipeline,
        flights_query,
        analytics,
        subscriptions,
        subscriber_path,
        http_flight,
        auth_overhead,
        aws_local,
        appsync,
        dashboard,  # last: a missed floor here ends the run with a non-zero exit
    ):
        bench.run()
        print(flush=True)


if __name__ == "__main__":
    main()
