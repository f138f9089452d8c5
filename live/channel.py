"""The cycle channel: ingest publishes each ``CycleUpdate`` once; every listener gets it.

``InProcessBroadcaster`` is the embedded default (ingest and API in one process);
``RedisCycleChannel`` carries updates between processes over Redis pub/sub. Both take
``publish`` from any thread (the ingest pipeline runs in a worker thread) and hand updates
to listeners on their event loop.

Both number what they publish (``Numbering``) and check the numbers of what they hand
over (``Continuity``). A listener that missed an update, because Redis was unreachable or
hung when it was published or because the listener fell behind, calls ``on_subscribed``
again before handing over the next one: what follows does not continue what came before,
and the listener's owner should resend the current state, as after a resubscription.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from domain import FlightState
from domain.cycle import CycleReport
from live.cycle_update import Continuity, CycleUpdate, Numbering, decode_states
from storage.base import StoreUnavailable, live_states
from storage.offload import offload
from storage.redis.pubsub import RedisBroadcaster
from storage.stores import Stores

log = logging.getLogger(__name__)

# Reads the states a poll publishes, given the newest two cycles as the poll read them;
# returns them with those cycles as they stood when the states were marked.
Changes = Callable[[list[CycleReport]], Awaitable[tuple[list[FlightState], list[CycleReport]]]]


class Broadcaster(Protocol):
    def publish(self, update: CycleUpdate) -> None: ...

    def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]: ...


class InProcessBroadcaster:
    """Listeners are asyncio queues on their own loops; an update is handed over, not
    copied. A listener that fell far behind loses its oldest updates, counted in ``lost``
    (and resynced, as every gap)."""

    def __init__(self, backlog: int = 8) -> None:
        self._backlog = backlog
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[CycleUpdate]]] = []
        self._lock = threading.Lock()
        self._number = Numbering()
        self.lost = 0

    def publish(self, update: CycleUpdate) -> None:
        update = self._number(update)
        with self._lock:
            listeners = list(self._listeners)
        for loop, queue in listeners:
            try:
                loop.call_soon_threadsafe(self._offer, queue, update)
            except RuntimeError:  # the listener's loop has closed
                log.debug("dropping a listener whose event loop closed")

    def _offer(self, queue: asyncio.Queue[CycleUpdate], update: CycleUpdate) -> None:
        if queue.full():
            queue.get_nowait()
            self.lost += 1
        queue.put_nowait(update)

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]:
        entry = (asyncio.get_running_loop(), asyncio.Queue[CycleUpdate](self._backlog))
        with self._lock:
            self._listeners.append(entry)
        try:
            if on_subscribed is not None:
                on_subscribed()
            continuity = Continuity()
            while True:
                update = await entry[1].get()
                _check(continuity, update, on_subscribed)
                yield update
        finally:
            with self._lock:
                self._listeners.remove(entry)


class RedisCycleChannel:
    """Updates over Redis pub/sub (channel ``flightdata:cycles``), one message per cycle.

    Publishing while Redis is down or hung fails within the client's socket timeout and
    logs: the ingest does not stop, and the update's number is spent, so every listener
    sees the gap at the next update it gets and resyncs its subscribers. A message this
    code cannot read is logged and skipped (a gap too, when a later one is read).
    """

    def __init__(
        self,
        channel: RedisBroadcaster,
        *,
        yield_to: Callable[[float], Awaitable[float]] | None = None,
    ) -> None:
        self.channel = channel
        self._number = Numbering()
        self._yield_to = yield_to

    def publish(self, update: CycleUpdate) -> None:
        update = self._number(update)
        try:
            self.channel.publish(update.encode())
        except StoreUnavailable as exc:
            log.warning("cycle %s not published to subscribers: %s", update.cycle_id, exc)

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]:
        continuity = Continuity()

        def subscribed() -> None:
            continuity.restart()
            if on_subscribed is not None:
                on_subscribed()

        async for message in self.channel.listen(on_subscribed=subscribed):
            try:
                update = await self._decoded(message)
            except ValueError as exc:
                log.warning("skipping a message on %s: %s", self.channel.channel, exc)
                continue
            _check(continuity, update, on_subscribed)
            yield update

    async def _decoded(self, message: bytes) -> CycleUpdate:
        """The update in ``message``, its states decoded in a worker thread ``READ_ROWS``
        at a time, with ``yield_to(READ_WAIT_S)`` awaited between two parts, as a store
        poll reads a cycle: decoding 5,400 states takes 20 to 32 ms of the interpreter,
        which requests would otherwise share (docs/performance.md)."""
        update, rows = await offload(CycleUpdate.decode_head, message)
        states: list[FlightState] = []
        for first in range(0, len(rows), READ_ROWS):
            if first and self._yield_to is not None:
                await self._yield_to(READ_WAIT_S)
            states += await offload(decode_states, rows[first : first + READ_ROWS])
        return replace(update, states=states)


# Stored rows read at a time when a cycle is read back (about 5 ms of the interpreter's
# time for 1,000 on SQLite), and the longest wait for requests between two reads.
READ_ROWS = 1_000
READ_WAIT_S = 0.05


@runtime_checkable
class StoredSince(Protocol):
    """A flight store that tells which aircraft's latest state was stored since a mark."""

    def stored_mark(self) -> int: ...

    def latest_stored_after(
        self, mark: int, upto: int | None = None, as_of: int | None = None
    ) -> tuple[list[FlightState], int]: ...


class CommitWatch(Protocol):
    """Wakes a waiter when the store may have committed since ``arm`` (``wait``, ``True``
    when a write woke it); ``watching``: whether writes wake it at all."""

    @property
    def watching(self) -> bool: ...

    def arm(self) -> None: ...

    async def wait(self, timeout_s: float) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class WatchedCommits(Protocol):
    """A cycle store whose commits another process can wait for instead of polling."""

    def commit_watch(self) -> CommitWatch: ...


# The least time between two polls: a commit writes its log in a burst, and each write
# may wake a watch.
POLL_GAP_S = 0.005
# With a watch, the poller looks every ``every_s`` for this long after a write woke it
# (the commit a write ends is visible a moment after it), then only every
# ``IDLE_POLL_S`` until the next write.
SETTLE_S = 0.5
IDLE_POLL_S = 1.0


class StorePolling:
    """Updates read back from the store, for an API process that shares the store with a
    separate ingest process but no Redis (``serve --workers N`` on the embedded default).

    It looks at the newest recorded cycle every ``every_s``, and as soon as the store
    commits when it can wait for commits (``WatchedCommits``: SQLite on Linux): the update
    then comes 6 to 12 ms after the commit instead of 11 to 54 ms (``python -m
    bench.subscriptions``). With a watch it polls every ``every_s`` only for ``SETTLE_S``
    after a write woke it: a commit is visible a moment after its last write to the log
    (SQLite then updates the log's shared index), so a poll that write woke may find
    nothing new, and the next poll finds it. (Polling only once a second, settling or not,
    left cycles that late in ``bench.soak``.) While nothing is written it polls every
    ``IDLE_POLL_S``, in case a write went unseen. When there is a new cycle it
    publishes the live aircraft whose latest state changed since it last looked: on a
    store that marks what it stored (``StoredSince``, SQLite) it reads only those, else
    every live state. When more than one cycle was recorded since (or the store did not
    answer meanwhile), the update holds only each aircraft's newest state:
    ``on_subscribed`` runs first, so that subscribers resync (``trackUpdates`` reads the
    positions in between from the store). ``publish`` does nothing: the ingest process's
    pipeline already wrote the store.

    A cycle's states are read ``READ_ROWS`` stored rows at a time; between two reads it
    awaits ``yield_to(READ_WAIT_S)`` (the API's ``Foreground.quiet``: its requests in
    progress go first).
    """

    # A poll is one indexed read of the newest two cycles (about 50 µs of CPU), so polling
    # often costs little; without a watch, its interval is part of every subscriber's
    # delivery latency.
    def __init__(
        self,
        stores: Stores,
        live_window_s: float,
        every_s: float = 0.05,
        yield_to: Callable[[float], Awaitable[float]] | None = None,
    ) -> None:
        self._stores = stores
        self._window = timedelta(seconds=live_window_s)
        self._load = live_states_of(stores, live_window_s)
        self._every_s = every_s
        self._yield_to = yield_to

    def publish(self, update: CycleUpdate) -> None:
        return None

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]:
        cycles = self._stores.cycles
        watch = cycles.commit_watch() if isinstance(cycles, WatchedCommits) else None
        try:
            async with aclosing(self._polled(watch, on_subscribed)) as updates:
                async for update in updates:
                    yield update
        finally:
            if watch is not None:
                watch.close()

    async def _polled(
        self, watch: CommitWatch | None, on_subscribed: Callable[[], None] | None
    ) -> AsyncGenerator[CycleUpdate, None]:
        changes = await offload(self._changes)
        last_cycle = await offload(self._newest_cycle)
        if on_subscribed is not None:
            on_subscribed()
        loop = asyncio.get_running_loop()
        polled = loop.time()
        written = -math.inf  # when a write last woke the watch
        while True:
            if watch is None:
                await asyncio.sleep(self._every_s)
            else:
                idle = watch.watching and loop.time() - written > SETTLE_S
                if await watch.wait(max(self._every_s, IDLE_POLL_S) if idle else self._every_s):
                    written = loop.time()
                if (gap := polled + POLL_GAP_S - loop.time()) > 0:
                    await asyncio.sleep(gap)
                watch.arm()  # before the poll reads: a commit during it wakes the next
                polled = loop.time()
            try:
                recent = await offload(self._stores.cycles.recent_cycles, 2)
                cycle = recent[0] if recent else None
                if cycle is None or cycle.cycle_id == getattr(last_cycle, "cycle_id", None):
                    continue
                changed, recent = await changes(recent)
                cycle = recent[0]
            except StoreUnavailable as exc:
                log.warning("polling the store for live updates failed: %s", exc)
                continue
            previous = recent[1].cycle_id if len(recent) > 1 else None
            if last_cycle is not None and previous != last_cycle.cycle_id:
                log.info("more than one cycle since %s; resyncing", last_cycle.cycle_id)
                if on_subscribed is not None:
                    on_subscribed()
            last_cycle = cycle
            yield CycleUpdate(
                cycle.cycle_id,
                cycle.started_at,
                changed,
                published_at=cycle.finished_at or datetime.now(UTC),
            )

    def _changes(self) -> Changes:
        """Marks what is stored now; returns the reader of the live aircraft whose latest
        state changed since the last read (one call at a time), given the newest two
        cycles as last read: it returns them as they stand when its states were marked."""
        flights = self._stores.flights
        newest = flights.newest_contact()
        if isinstance(flights, StoredSince):
            mark = flights.stored_mark()

            async def stored_since(
                recent: list[CycleReport],
            ) -> tuple[list[FlightState], list[CycleReport]]:
                nonlocal mark, newest
                top, recent = await offload(self._settled_mark, flights, recent)
                states: list[FlightState] = []
                at = mark
                while at < top:
                    if at > mark and self._yield_to is not None:
                        await self._yield_to(READ_WAIT_S)
                    part, at = await offload(
                        flights.latest_stored_after, at, min(top, at + READ_ROWS), top
                    )
                    states += part
                mark = top
                contacts = [s.last_contact for s in states]
                if newest is not None:
                    contacts.append(newest)
                newest = max(contacts, default=None)
                if newest is None:
                    return states, recent
                live_since = newest - self._window
                return [s for s in states if s.last_contact >= live_since], recent

            return stored_since

        seen = {s.icao24: s.last_contact for s in self._load()}

        async def every_live_state(
            recent: list[CycleReport],
        ) -> tuple[list[FlightState], list[CycleReport]]:
            nonlocal seen
            states = await offload(self._load)
            changed = [s for s in states if seen.get(s.icao24) != s.last_contact]
            seen = {s.icao24: s.last_contact for s in states}
            return changed, recent

        return every_live_state

    def _settled_mark(
        self, flights: StoredSince, recent: list[CycleReport]
    ) -> tuple[int, list[CycleReport]]:
        """What the store holds stored now, and the newest two cycles it holds with it.

        A cycle's states and its report are committed together, so a mark read while the
        newest cycle stayed the same holds that cycle's states and no later one's. A
        cycle committed between the poll's read of the cycles and the mark would
        otherwise have its states published as the earlier cycle's, and its own update
        none."""
        while True:
            top = flights.stored_mark()
            now = self._stores.cycles.recent_cycles(2)
            if [c.cycle_id for c in now] == [c.cycle_id for c in recent]:
                return top, now
            recent = now

    def _newest_cycle(self) -> CycleReport | None:
        recent = self._stores.cycles.recent_cycles(1)
        return recent[0] if recent else None


def _check(
    continuity: Continuity, update: CycleUpdate, on_subscribed: Callable[[], None] | None
) -> None:
    if not continuity.follows(update):
        log.warning("cycle updates were missed before %s; resyncing", update.cycle_id)
        if on_subscribed is not None:
            on_subscribed()


def live_states_of(stores: Stores, live_window_s: float) -> Callable[[], list[FlightState]]:
    """Reads every live aircraft's latest state from the store, as the flights query
    lists them: the hub's ``load_current``."""

    def load() -> list[FlightState]:
        return live_states(stores.flights, live_window_s)

    return load
