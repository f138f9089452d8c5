"""The one seam between async code and the blocking stores.

Every repository is synchronous: SQLite, boto3 and redis-py block the calling thread. Async
code (resolvers, DataLoaders, the REST, peer and health endpoints, the hub, the ingest loop)
never calls one on the event loop: it awaits ``offload(call, ...)``, which runs the call on
the default thread pool, so that a slow read (the Redis-down fallback takes about 0.5 s)
delays only the request that made it, never the other requests and subscribers of the
process. The context (request and cycle ids) goes with the call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


async def offload(call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``call(*args, **kwargs)`` on a worker thread, awaited."""
    return await asyncio.to_thread(call, *args, **kwargs)
