"""The subscribers of one API process and the fan-out of each cycle to them.

``UpdateHub.run`` listens on the broadcaster; each update is indexed once, filtered for
every subscriber and appended to that subscriber's bounded queue. Nothing here awaits a
client: a slow or stalled one only fills its own queue, whose oldest batches are dropped
and counted, so it never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from domain import FlightState
from subscriptions.broadcast import Broadcaster
from subscriptions.filtering import CellIndex, UpdateFilter, View
from subscriptions.updates import CycleUpdate

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Batch:
    """What one subscriber gets from one cycle. ``resync``: updates may have been missed
    (the channel reconnected); the subscriber should be sent the current state again."""

    cycle_id: str
    at: datetime
    flights: list[FlightState]
    removed: list[str]
    dropped: int = 0
    resync: bool = False


class Subscriber:
    def __init__(self, flt: UpdateFilter, queue_size: int) -> None:
        self.view = View(flt)
        self._queue: deque[Batch] = deque()
        self._size = queue_size
        self._ready = asyncio.Event()
        self.dropped = 0  # in all
        self._dropped_since = 0  # since the last batch taken

    def offer(self, batch: Batch) -> None:
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self.dropped += 1
            self._dropped_since += 1
        self._queue.append(batch)
        self._ready.set()

    async def next(self) -> Batch:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        batch = self._queue.popleft()
        if self._dropped_since:
            batch = Batch(
                batch.cycle_id,
                batch.at,
                batch.flights,
                batch.removed,
                dropped=self._dropped_since,
                resync=batch.resync,
            )
            self._dropped_since = 0
        return batch


class UpdateHub:
    """Fans each cycle's update out to this process's subscribers.

    ``live_window_s`` is the flights query's: an aircraft not heard from for that long
    relative to the newest contact is stale, and reported in ``removed``.
    """

    def __init__(
        self, broadcaster: Broadcaster, *, live_window_s: float, queue_size: int = 16
    ) -> None:
        self.broadcaster = broadcaster
        self.live_window = timedelta(seconds=live_window_s)
        self.queue_size = queue_size
        self.subscribers: set[Subscriber] = set()
        self.last_cycle_id: str | None = None
        self.newest: datetime | None = None
        self.cycles = 0
        self._listening = 0
        self.ready = asyncio.Event()

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.subscribers)

    @contextlib.contextmanager
    def subscribe(self, flt: UpdateFilter) -> Iterator[Subscriber]:
        subscriber = Subscriber(flt, self.queue_size)
        self.subscribers.add(subscriber)
        try:
            yield subscriber
        finally:
            self.subscribers.discard(subscriber)

    async def run(self) -> None:
        """Listen for updates until cancelled."""
        async for update in self.broadcaster.listen(on_subscribed=self._subscribed):
            try:
                self.dispatch(update)
            except Exception:  # one bad update must not end live updates for good
                log.exception("dispatching cycle %s failed", update.cycle_id)

    def _subscribed(self) -> None:
        self._listening += 1
        self.ready.set()
        if self._listening > 1:
            # The channel reconnected: cycles published meanwhile never reached us.
            log.info("cycle channel back; resyncing %d subscribers", len(self.subscribers))
            for sub in self.subscribers:
                sub.offer(Batch(self.last_cycle_id or "", datetime.now(UTC), [], [], resync=True))

    def dispatch(self, update: CycleUpdate) -> None:
        self.cycles += 1
        self.last_cycle_id = update.cycle_id
        newest = update.newest_contact
        if newest is not None and (self.newest is None or newest > self.newest):
            self.newest = newest
        stale_before = None if self.newest is None else self.newest - self.live_window
        index = CellIndex(update.states)
        for sub in self.subscribers:
            flights, removed = sub.view.apply(index, stale_before)
            sub.offer(Batch(update.cycle_id, update.at, flights, removed))

    def stale_before(self) -> datetime | None:
        return None if self.newest is None else self.newest - self.live_window
