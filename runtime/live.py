"""Live updates wired from the settings: the cycle channel, this process's hub, and the
ingest pipeline's hook that publishes on the channel."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from config import Settings
from domain import FlightState
from domain.cycle import CycleReport
from ingestion.pipeline import StoredHook
from live.channel import (
    Broadcaster,
    InProcessBroadcaster,
    RedisCycleChannel,
    StorePolling,
    live_states_of,
)
from live.cycle_update import CycleUpdate
from live.filtering import Present
from live.subscribers import UpdateHub
from storage.redis.pubsub import RedisBroadcaster
from storage.stores import Stores


def build_broadcaster(
    settings: Settings,
    stores: Stores,
    *,
    ingests: bool,
    yield_to: Callable[[float], Awaitable[float]] | None = None,
) -> Broadcaster:
    """Redis pub/sub when the stores have Redis (every process of a deployment shares
    it); else in-process when this process ingests, or polling the shared store when a
    separate process does. Reading a cycle from Redis or the store yields to requests
    through ``yield_to``."""
    if stores.redis is not None:
        from storage.redis import connect_async, redis_url

        url = redis_url(settings.redis_url, settings.redis_cluster_endpoint)
        assert url is not None, "stores have Redis only when a Redis URL is set"
        return RedisCycleChannel(
            RedisBroadcaster(stores.redis, aclient=connect_async(url)), yield_to=yield_to
        )
    if ingests:
        return InProcessBroadcaster()
    return StorePolling(stores, settings.live_window_s, yield_to=yield_to)


def build_hub(
    settings: Settings,
    stores: Stores,
    broadcaster: Broadcaster,
    present: Present,
    after_cycle: Callable[[], Awaitable[None]] | None = None,
    yield_to: Callable[[float], Awaitable[float]] | None = None,
) -> UpdateHub:
    """This process's subscribers, fed by ``broadcaster``, resynced from the store; their
    batches show each state as ``present`` makes it (the API's ``shared_flight``, passed
    in so that an ingest process, which imports this module, never loads the API), and
    ``after_cycle`` runs after each cycle; a cycle's work yields to requests through
    ``yield_to`` (``UpdateHub``)."""
    return UpdateHub(
        broadcaster,
        live_window_s=settings.live_window_s,
        load_current=live_states_of(stores, settings.live_window_s),
        present=present,
        after_cycle=after_cycle,
        yield_to=yield_to,
    )


def ingest_publisher(settings: Settings, stores: Stores) -> StoredHook | None:
    """The hook of an ingest process that serves no API (``flightdata ingest``, the child
    of ``serve``): each cycle over Redis when the stores have it; without Redis, none (the
    API processes read the shared store)."""
    if stores.redis is None:
        return None
    return publisher(build_broadcaster(settings, stores, ingests=True))


def publisher(broadcaster: Broadcaster) -> StoredHook:
    """The pipeline's ``on_stored`` hook that publishes each cycle on ``broadcaster``."""

    def publish(report: CycleReport, states: Sequence[FlightState]) -> None:
        broadcaster.publish(CycleUpdate(report.cycle_id, report.started_at, list(states)))

    return publish
