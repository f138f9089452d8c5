"""A subscriber's share of a cycle, in-process: what the API does for each one.

``python -m bench.subscriber_path [SUBSCRIBERS]`` (default 5,000). The global snapshot
(about 5,400 aircraft, every one moved each cycle) goes through ``UpdateHub.dispatch`` to
``flightUpdates`` subscriptions of the served schema, in the boxes and with the selection
``bench.subscriptions`` uses. For each of nine cycles it times the offers (the hub's
selection and view for every subscriber, with taking and indexing the cycle), then each
subscriber's event built from its batch and encoded as a ``graphql-transport-ws``
message. No socket: the rest of a subscriber's cost (waking its task, the WebSocket
frame, the write) is the bare server's in ``bench.subscriptions``.

The collector is off while the cycles are timed: here every batch waits until all are
offered, and its garbage would be collected several times a cycle, while in the server
each is sent soon after it is offered and the collector did not run during the cycles
of ``bench.subscriptions`` (counted with ``gc.callbacks``).

Floor: half of what the p99 floor of ``bench.subscriptions`` allows a subscriber (100 µs
at 5,000, 250 µs at 1,000); the other half is for waking it, the WebSocket frame and the
write (about 70 µs in the bare server there), and the cycle's start.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

from bench._common import line
from bench.fanout import _cycles
from bench.subscriptions import QUERY, _boxes, p99_floor_ms
from config import Settings
from live.channel import InProcessBroadcaster
from live.subscribers import UpdateHub
from resolvers.root import build_schema
from resolvers.subscriptions import shared_flight
from schema._executor import encode_json
from schema.context import Context, make_loaders
from schema.streaming import subscription_stream

SUBSCRIBERS = 5000
CYCLES = 9


def _context(hub: UpdateHub) -> Context:
    settings = Settings.from_env({})
    stores: Any = None  # flightUpdates reads the hub's memory, never a store
    return Context(
        stores=stores, settings=settings, loaders=make_loaders(stores, settings), hub=hub
    )


async def _measure(subscribers: int) -> tuple[list[float], list[float], int]:
    cycles = _cycles(CYCLES + 1)
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=300, present=shared_flight)
    hub.dispatch(cycles[0])
    hub.ready.set()
    schema = build_schema()
    streams = []
    for box in _boxes(subscribers):
        stream = subscription_stream(schema, QUERY, {"bbox": box}, _context(hub), None, None)
        assert stream is not None, "flightUpdates takes the streaming path"
        streams.append(stream)
    for stream in streams:
        await anext(stream)  # the snapshot
    offers, events, flights = [], [], 0
    gc.collect()
    gc.disable()
    try:
        for update in cycles[1:]:
            started = time.perf_counter()
            hub.dispatch(update)
            offers.append(time.perf_counter() - started)
            started = time.perf_counter()
            for stream in streams:
                result = await anext(stream)
                assert result.data is not None, result.errors
                message = {"id": "1", "type": "next", "payload": {"data": result.data}}
                encode_json(message).decode()  # as ``FlightGraphQL.encode_json``: text
                flights += len(result.data["flightUpdates"]["flights"])
            events.append(time.perf_counter() - started)
    finally:
        gc.enable()
        for stream in streams:
            await stream.aclose()
    return offers, events, flights // (CYCLES * subscribers)


def run(subscribers: int = SUBSCRIBERS) -> bool:
    offers, events, flights = asyncio.run(_measure(subscribers))
    totals = [a + b for a, b in zip(offers, events, strict=True)]
    print(
        f"a subscriber's share of a cycle, in-process: {subscribers:,} subscribers, "
        f"{flights} flights a batch on average, median of {CYCLES} cycles"
    )

    def us(values: list[float]) -> float:
        return statistics.median(values) / subscribers * 1e6

    line("offer (selection, view; the cycle taken and indexed)", f"{us(offers):.1f} µs")
    line("event built from the batch, and encoded", f"{us(events):.1f} µs")
    floor_us = p99_floor_ms(subscribers) * 1000 / subscribers / 2
    ok = us(totals) <= floor_us
    line(
        "a subscriber in all",
        f"{us(totals):.1f} µs (floor {floor_us:.0f} µs) {'ok' if ok else 'MISSED'}",
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.subscriber_path", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "subscribers", nargs="?", type=int, default=SUBSCRIBERS, help=f"[{SUBSCRIBERS:,}]"
    )
    return 0 if run(parser.parse_args(argv).subscribers) else 1


if __name__ == "__main__":
    raise SystemExit(main())
