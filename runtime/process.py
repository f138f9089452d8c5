"""Settings of the Python process itself that every entry point applies at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import gc
import os
import sys
from functools import cache

_M_ARENA_MAX = -8  # glibc's mallopt parameter


@cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once: ``find_library`` runs ``ldconfig`` each time, and
    ``release_free_memory`` runs every cycle. ``None`` off Linux or where it cannot load."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def tune_gc() -> None:
    """Collect garbage less often than CPython's default of every 700 allocations.

    An ingest cycle allocates hundreds of thousands of short-lived objects beside a large
    set of long-lived ones (airports, the latest states); with the default thresholds the
    collector rescans those again and again, which measured 20 % of a cycle. Objects made
    at start-up are frozen out of collection altogether.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


def tune_allocators(arenas: int = 2) -> None:
    """Keep glibc's allocator to ``arenas`` arenas instead of eight per core, and have
    Arrow allocate from it.

    Every thread that allocates (the offload pool, the server's) would otherwise get an
    arena of its own, and freed memory scattered over many arenas is seldom returned: the
    resident size grows by hundreds of MB over an hour without more live objects.

    Arrow (the Parquet writer) allocates from its own mimalloc by default, which kept what
    a flush of 100,000 states freed: the ingest process stayed 27 MiB larger after it and
    was 40 MiB over its size at the flush's peak, against 6 and 22 MiB with the C
    library's allocator (docs/performance.md, "A Parquet flush"). Arrow reads
    ``ARROW_DEFAULT_MEMORY_POOL`` once, when pyarrow is imported; set here, before that,
    it reaches the processes this one starts too. A value already set is kept. The arena
    limit does nothing where the C library is not glibc.
    """
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # a C library without it
            libc.mallopt(_M_ARENA_MAX, arenas)


def release_free_memory() -> None:
    """Give the pages glibc holds free back to the system (``malloc_trim``).

    A cycle frees most of what it allocates, but glibc keeps freed pages in its arenas for
    reuse: the resident size stays at the high-water mark of the busiest cycle or flush.
    Does nothing where the C library is not glibc.
    """
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):  # a C library without it
            libc.malloc_trim(0)


async def release_free_memory_every(seconds: float) -> None:
    """``release_free_memory`` every ``seconds`` in a worker thread, until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(release_free_memory)
