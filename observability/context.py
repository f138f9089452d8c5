"""Correlation ids: the request being served and the ingest cycle being run.

Both live in context variables, so each asyncio task and each thread started with
``storage.offload.offload`` (which copies the context) sees the ids of the work it belongs to;
event handlers run in the publisher's context and see them too. ``logs`` writes them on
every record.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar

REQUEST_ID: ContextVar[str | None] = ContextVar("flightdata_request_id", default=None)
CYCLE_ID: ContextVar[str | None] = ContextVar("flightdata_cycle_id", default=None)


def new_request_id() -> str:
    """A fresh request id: 32 random lowercase hex digits."""
    # 128 random bits like a UUID4, at an eighth of uuid.uuid4()'s cost per request.
    return os.urandom(16).hex()


@contextlib.contextmanager
def bound(*, request_id: str | None = None, cycle_id: str | None = None) -> Iterator[None]:
    """Set the given ids for the duration of the block (the others are left as they are)."""
    tokens = []
    if request_id is not None:
        tokens.append((REQUEST_ID, REQUEST_ID.set(request_id)))
    if cycle_id is not None:
        tokens.append((CYCLE_ID, CYCLE_ID.set(cycle_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
