"""Subscription resolvers: async generators fed by this process's ``UpdateHub``.

Each starts with the current state inside its filter, read from the store, then yields
one batch per ingest cycle. DataLoaders are renewed per batch: a WebSocket connection's
context lives as long as the connection, and cached answers must not.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from strawberry.types import Info

from domain import FlightState, InvalidArgument
from live.filtering import UpdateFilter
from live.subscribers import Subscriber, UpdateHub
from schema import arguments
from schema._executor import RESPONSE_MEMO, complete_ahead
from schema.context import Context, make_loaders
from schema.flight import Flight
from schema.inputs import BoundingBoxInput
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint
from storage.offload import offload

_READY_WAIT_S = 5.0


def _hub(ctx: Context) -> UpdateHub:
    if ctx.hub is None:
        raise InvalidArgument("subscriptions are served over WebSocket at /graphql")
    if ctx.hub.present is not shared_flight:
        raise RuntimeError("a hub that serves subscriptions presents states as shared_flight")
    return ctx.hub


def _filter(bbox: BoundingBoxInput | None, icao24: list[str] | None) -> UpdateFilter:
    codes = None if icao24 is None else arguments.aircraft(icao24)
    return UpdateFilter(bbox=bbox.to_domain() if bbox else None, icao24=codes)


def shared_flight(state: FlightState) -> Flight:
    """A live state as the ``Flight`` every subscriber that gets it shares: the hub makes
    one per state and cycle (``UpdateHub(present=shared_flight)``), and the executor
    completes it once per selection (it carries ``RESPONSE_MEMO``), here already for the
    selections subscribers made lately (``complete_ahead``)."""
    flight = Flight.from_state(state)
    setattr(flight, RESPONSE_MEMO, {})
    complete_ahead(flight)
    return flight


async def _snapshot(hub: UpdateHub, sub: Subscriber, *, dropped: int = 0) -> FlightUpdateBatch:
    """The current state inside the subscriber's filter, from the hub's memory."""
    with contextlib.suppress(TimeoutError):  # not loaded yet: start from what is known
        async with asyncio.timeout(_READY_WAIT_S):  # not wait_for: storage.sqlite.commits
            await hub.ready.wait()
    matched, removed = sub.view.reset(hub.current())
    now = datetime.now(UTC)
    return FlightUpdateBatch(
        cycle_id=hub.last_cycle_id or "",
        at=now,
        published_at=now,
        flights=matched.shown,
        removed=removed,
        dropped_batches=dropped,
        snapshot=True,
    )


async def flight_updates(
    info: Info[Context, None],
    bbox: BoundingBoxInput | None = None,
    icao24: list[str] | None = None,
) -> AsyncGenerator[FlightUpdateBatch, None]:
    """The current flights inside the filter, then what changed in each ingest cycle."""
    ctx = info.context
    hub = _hub(ctx)
    flt = _filter(bbox, icao24)
    with hub.subscribe(flt) as sub:
        yield await _snapshot(hub, sub)
        while True:
            batch = await sub.next()
            ctx.loaders = make_loaders(ctx.stores, ctx.settings)
            if batch.resync:
                yield await _snapshot(hub, sub, dropped=batch.dropped)
                continue
            yield FlightUpdateBatch(
                cycle_id=batch.cycle_id,
                at=batch.at,
                published_at=batch.published_at,
                flights=batch.shown,
                removed=batch.removed,
                dropped_batches=batch.dropped,
                snapshot=False,
            )


async def track_updates(info: Info[Context, None], icao24: str) -> AsyncGenerator[TrackPoint, None]:
    """Each new position of one aircraft, starting with its latest known one. After a gap
    (a resync, or batches dropped for a slow client) the positions missed meanwhile are
    read from the stored track, so none is skipped."""
    ctx = info.context
    hub = _hub(ctx)
    code = arguments.icao24(icao24)
    with hub.subscribe(UpdateFilter(icao24=frozenset((code,)))) as sub:
        latest = await offload(ctx.stores.flights.latest, code)
        last = None
        if latest is not None and latest.has_position:
            last = latest.time
            yield TrackPoint.from_state(latest)
        while True:
            batch = await sub.next()
            states = batch.flights
            if batch.resync or batch.dropped:
                now = datetime.now(UTC)
                since = last if last is not None else now - hub.live_window
                missed = await offload(ctx.stores.flights.tracks, [code], since, now)
                states = [*missed.get(code, []), *states]
            for state in states:
                if state.has_position and (last is None or state.time > last):
                    last = state.time
                    yield TrackPoint.from_state(state)
