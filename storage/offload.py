"""The one seam between async code and the blocking stores.

Every repository is synchronous: SQLite, boto3 and redis-py block the calling thread. Async
code (resolvers, DataLoaders, the REST, peer and health endpoints, the hub, the ingest loop)
never calls one directly: it awaits ``offload(call, ...)``, which runs the call on the
default thread pool, so that a slow read (the Redis-down fallback takes about 0.5 s)
delays only the request that made it, never the other requests and subscribers of the
process. The context (request and cycle ids) goes with the call.

One exception, decided here too: a method marked ``@inline`` runs on the calling thread.
Those are the embedded SQLite store's lookups by key (an aircraft's latest state and track,
an airport, a leg, an API key), which read a local file in well under a millisecond; the
hop to a worker thread costs more than that. Measured with ``python -m
bench.auth_overhead`` (``flight(icao24:)``, in-process): 205 µs of CPU a request inline,
430 µs offloaded. Searches, bulk reads, writes and every network store are offloaded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])

_INLINE = "__offload_inline__"


def inline(method: F) -> F:
    """Marks a local lookup that ``offload`` may run on the calling thread."""
    setattr(method, _INLINE, True)
    return method


async def offload(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)`` on a worker thread, awaited; inline if marked ``@inline``."""
    if getattr(call, _INLINE, False):
        return call(*args, **kwargs)
    return await asyncio.to_thread(call, *args, **kwargs)
