"""The cycle channel: ingest publishes each ``CycleUpdate`` once; every listener gets it.

``InProcessBroadcaster`` is the embedded default (ingest and API in one process);
``RedisCycleChannel`` carries updates between processes over Redis pub/sub. Both take
``publish`` from any thread (the ingest pipeline runs in a worker thread) and hand updates
to listeners on their event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from config import Settings
from domain import FlightState
from domain.cycle import CycleReport
from ingestion.pipeline import StoredHook
from storage.base import StoreUnavailable
from storage.factory import Stores
from storage.redis.pubsub import RedisBroadcaster
from subscriptions.updates import CycleUpdate

log = logging.getLogger(__name__)


class Broadcaster(Protocol):
    def publish(self, update: CycleUpdate) -> None: ...

    def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]: ...


class InProcessBroadcaster:
    """Listeners are asyncio queues on their own loops; an update is handed over, not
    copied. A listener that fell far behind loses its oldest updates, counted in ``lost``."""

    def __init__(self, backlog: int = 8) -> None:
        self._backlog = backlog
        self._listeners: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[CycleUpdate]]] = []
        self._lock = threading.Lock()
        self.lost = 0

    def publish(self, update: CycleUpdate) -> None:
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
            while True:
                yield await entry[1].get()
        finally:
            with self._lock:
                self._listeners.remove(entry)


class RedisCycleChannel:
    """Updates over Redis pub/sub (channel ``flightdata:cycles``), one message per cycle.

    Publishing while Redis is down logs and drops the update: subscribers miss a cycle,
    the ingest does not stop. A message this code cannot read is logged and skipped.
    """

    def __init__(self, channel: RedisBroadcaster) -> None:
        self.channel = channel

    def publish(self, update: CycleUpdate) -> None:
        try:
            self.channel.publish(update.encode())
        except StoreUnavailable as exc:
            log.warning("cycle %s not published to subscribers: %s", update.cycle_id, exc)

    async def listen(
        self, *, on_subscribed: Callable[[], None] | None = None
    ) -> AsyncIterator[CycleUpdate]:
        async for message in self.channel.listen(on_subscribed=on_subscribed):
            try:
                yield CycleUpdate.decode(message)
            except ValueError as exc:
                log.warning("skipping a message on %s: %s", self.channel.channel, exc)


def publisher(broadcaster: Broadcaster) -> StoredHook:
    """The pipeline's ``on_stored`` hook that publishes each cycle on ``broadcaster``."""

    def publish(report: CycleReport, states: Sequence[FlightState]) -> None:
        broadcaster.publish(CycleUpdate(report.cycle_id, report.started_at, list(states)))

    return publish


def build_broadcaster(settings: Settings, stores: Stores) -> Broadcaster:
    """Redis pub/sub when the stores have Redis (every process of a deployment shares it),
    else the in-process broadcaster of the embedded default."""
    if stores.redis is None:
        return InProcessBroadcaster()
    from storage.redis import connect_async, redis_url

    url = redis_url(settings.redis_url, settings.redis_cluster_endpoint)
    assert url is not None, "stores have Redis only when a Redis URL is set"
    return RedisCycleChannel(RedisBroadcaster(stores.redis, aclient=connect_async(url)))
