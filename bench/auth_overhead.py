"""What API keys and rate limiting add to a small query: ``flight(icao24:)``, in-process.

Two apps on the same embedded store, called through their whole ASGI stack (middleware,
routing, the lean POST path, the schema) with 32 requests in flight: one with the security
layer off (``FLIGHTDATA_SECURITY=false``), one with it on, where each request carries an
API key and takes a token from the Redis bucket (its limiter is the Redis one, on
``FLIGHTDATA_BENCH_REDIS_URL`` when set, else on a Redis server of the benchmark's own,
``devtools.redis_server``; its stores stay embedded, so the difference is the gate
alone). A third app shows the embedded default, the in-process bucket.

The figure is the ratio of the CPU time this process spends per request, the median of
alternating rounds; floor 1.15. CPU time rather than wall time: the machine is shared (on
two cores, with anything else running, wall time measures the neighbours), and Redis runs
elsewhere in a deployment. Redis's own time per call (``INFO commandstats``) and the wall
times are printed beside it. In-process rather than over HTTP: without uvicorn's own
per-request work in both, the ratio is the stricter one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
from collections.abc import MutableMapping
from typing import Any

import orjson
from starlette.applications import Starlette

from app import create_app
from bench._common import line, scratch_settings
from devtools import redis_server
from ingestion.pipeline import Pipeline
from ingestion.replay import ReplaySource
from runtime.process import tune_gc
from runtime.stores import open_stores
from security.keys import KeyService
from security.ratelimit import FallbackLimiter, LocalBuckets, RedisBuckets
from storage.redis.resp import RespClient

ICAO24 = "4ca7b5"
BODY = orjson.dumps(
    {"query": f'{{ flight(icao24: "{ICAO24}") {{ icao24 callsign latitude longitude }} }}'}
)
REDIS_URL = os.environ.get("FLIGHTDATA_BENCH_REDIS_URL", "")
IN_FLIGHT = 32
PER_ROUND = 1024
ROUNDS = 9
FLOOR = 1.15


def _scope(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(BODY)),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: Starlette, headers: list[tuple[bytes, bytes]]) -> int:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # the client never disconnects
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    status = 0

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(_scope(headers), receive, send)
    return status


async def _round(app: Starlette, headers: list[tuple[bytes, bytes]]) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per request over one round."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(PER_ROUND // IN_FLIGHT):
        statuses = await asyncio.gather(*(_call(app, headers) for _ in range(IN_FLIGHT)))
        if any(s != 200 for s in statuses):
            raise RuntimeError(f"a benchmark request failed: {sorted(set(statuses))}")
    return (time.process_time() - cpu) / PER_ROUND, (time.perf_counter() - wall) / PER_ROUND


Variants = dict[str, tuple[Starlette, list[tuple[bytes, bytes]]]]


async def _measure(variants: Variants) -> dict[str, tuple[float, float]]:
    for app, headers in variants.values():
        await _round(app, headers)  # warm: caches, connections, Redis's script cache
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(ROUNDS):
        for name, (app, headers) in variants.items():
            times[name].append(await _round(app, headers))
    return {
        name: (statistics.median(t[0] for t in got), statistics.median(t[1] for t in got))
        for name, got in times.items()
    }


def _redis_us_per_call(redis_url: str) -> float | None:
    """Redis's own CPU per EVALSHA, from its command statistics."""
    import redis

    try:
        stats = redis.Redis.from_url(redis_url).info("commandstats")
    except redis.RedisError:
        return None
    evalsha = stats.get("cmdstat_evalsha")
    return None if not evalsha else float(evalsha["usec_per_call"])


def run() -> dict[str, float]:
    own = None if REDIS_URL else redis_server.start()
    try:
        return _run(REDIS_URL or own.url(10) if own is not None else REDIS_URL)
    finally:
        if own is not None:
            own.stop()


def _run(redis_url: str) -> dict[str, float]:
    print(
        f"auth + rate limiting on flight(icao24:): in-process ASGI, {IN_FLIGHT} in flight, "
        f"Redis at {redis_url}"
    )
    with scratch_settings(live_window_s=10.0**9) as settings:
        stores = open_stores(settings)
        replay = ReplaySource()
        Pipeline(stores.flights, stores.dead_letters).process(
            "replay", replay.advance(), replay.normalise
        )
        tiers = (("anonymous", 5.0, 100), ("standard", 1e9, 10**9))
        key = KeyService(stores.api_keys, frozenset({"anonymous", "standard"})).create("bench")
        stores.close()
        plain = create_app(dataclasses.replace(settings, security=False), ingest=False)
        local = create_app(dataclasses.replace(settings, rate_tiers=tiers), ingest=False)
        redis = create_app(dataclasses.replace(settings, rate_tiers=tiers), ingest=False)
        gate = redis.state.runtime.security.gate
        gate.limiter = FallbackLimiter(RedisBuckets(RespClient(redis_url)), LocalBuckets())
        keyed = [(b"x-api-key", key.key.encode())]
        measured = asyncio.run(
            _measure({"plain": (plain, []), "local": (local, keyed), "redis": (redis, keyed)})
        )
        if gate.limiter.failures:
            print(f"  Redis at {REDIS_URL} did not answer: the figures are not Redis's")
            return {}
        for app in (plain, local, redis):
            app.state.runtime.stores.close()
    cpu = {name: t[0] * 1e6 for name, t in measured.items()}
    wall = {name: t[1] * 1e6 for name, t in measured.items()}
    ratio = cpu["redis"] / cpu["plain"]
    for name, label in (
        ("plain", "without auth and rate limits"),
        ("local", "key + in-process bucket"),
        ("redis", "key + Redis bucket"),
    ):
        line(label, f"{cpu[name]:.0f} µs CPU a request ({wall[name]:.0f} µs wall)")
    line("ratio, key + Redis / without (CPU)", f"{ratio:.3f}  (floor {FLOOR})")
    line("ratio, key + in-process / without", f"{cpu['local'] / cpu['plain']:.3f}")
    redis_us = _redis_us_per_call(redis_url)
    if redis_us is not None:
        line("Redis's own CPU per EVALSHA", f"{redis_us:.1f} µs")
        line("ratio with it added", f"{(cpu['redis'] + redis_us) / cpu['plain']:.3f}")
    return {
        "auth_plain_us": cpu["plain"],
        "auth_local_us": cpu["local"],
        "auth_redis_us": cpu["redis"],
        "auth_overhead_ratio": ratio,
    }


if __name__ == "__main__":
    tune_gc()
    run()
