"""Requests first: the HTTP requests in progress, and a wait for a moment without any.

A cycle's fan-out (``live.subscribers.UpdateHub``) is a burst of work on the API's event
loop: taking the cycle in, indexing it, rendering and sending each subscriber's batch.
A request that arrives meanwhile waits behind it at each of its awaits. Between slices of
that work the hub awaits ``Foreground.quiet``, which returns as soon as no HTTP request
is in progress (at once when none is), or after ``max_wait_s``: requests go first, and
subscribers get their batches in the gaps between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.types import ASGIApp, Receive, Scope, Send


class Foreground:
    """The count of HTTP requests in progress in this process (``CountRequests``)."""

    def __init__(self) -> None:
        self.active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.active += 1
        self._idle.clear()

    def ended(self) -> None:
        self.active -= 1
        if self.active == 0:
            self._idle.set()

    async def quiet(self, max_wait_s: float) -> float:
        """Wait until no request is in progress, at most ``max_wait_s``; the seconds
        waited. Yields to the event loop once even when none is."""
        if self.active == 0 or max_wait_s <= 0:
            await asyncio.sleep(0)
            return 0.0
        start = time.perf_counter()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max_wait_s):  # not wait_for: see storage.sqlite.commits
                await self._idle.wait()
        return time.perf_counter() - start


class CountRequests:
    """ASGI middleware: every HTTP request is counted in ``foreground`` while in progress
    (WebSockets are not: a subscription lasts as long as its connection)."""

    def __init__(self, app: ASGIApp, foreground: Foreground) -> None:
        self.app = app
        self.foreground = foreground

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.foreground.started()
        try:
            await self.app(scope, receive, send)
        finally:
            self.foreground.ended()
