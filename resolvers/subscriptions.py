"""Subscription resolvers: async generators fed by this process's ``UpdateHub``.

Each starts with the current state inside its filter, read from the store, then yields
one batch per ingest cycle. DataLoaders are renewed per batch: a WebSocket connection's
context lives as long as the connection, and cached answers must not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta

from strawberry.types import Info

from domain import FlightState, InvalidArgument
from resolvers import _args
from resolvers.context import Context, make_loaders
from schema.flight import Flight
from schema.inputs import BoundingBoxInput
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint
from storage.base import FlightFilter
from subscriptions.filtering import UpdateFilter
from subscriptions.hub import Subscriber, UpdateHub

MAX_AIRCRAFT = 1000


def _hub(ctx: Context) -> UpdateHub:
    if ctx.hub is None:
        raise InvalidArgument("subscriptions are served over WebSocket at /graphql")
    return ctx.hub


def _filter(bbox: BoundingBoxInput | None, icao24: list[str] | None) -> UpdateFilter:
    codes = None
    if icao24 is not None:
        if not 1 <= len(icao24) <= MAX_AIRCRAFT:
            raise InvalidArgument(
                f"icao24 must list between 1 and {MAX_AIRCRAFT} aircraft, got {len(icao24)}"
            )
        codes = frozenset(_args.icao24(code) for code in icao24)
    return UpdateFilter(bbox=bbox.to_domain() if bbox else None, icao24=codes)


def _current(ctx: Context, flt: UpdateFilter) -> list[FlightState]:
    """The live states matching ``flt`` now, as the flights query would list them."""
    flights = ctx.stores.flights
    newest = flights.newest_contact()
    since = None if newest is None else newest - timedelta(seconds=ctx.settings.live_window_s)
    if flt.icao24 is not None:
        found = flights.latest_many(sorted(flt.icao24))
        return [s for s in found.values() if since is None or s.last_contact >= since]
    page = flights.search_latest(FlightFilter(bbox=flt.bbox, since=since), first=1_000_000)
    return page.items


def _snapshot(
    ctx: Context, hub: UpdateHub, sub: Subscriber, *, dropped: int = 0
) -> FlightUpdateBatch:
    before = set(sub.view.inside)
    states = sub.view.reset(_current(ctx, sub.view.filter))
    return FlightUpdateBatch(
        cycle_id=hub.last_cycle_id or "",
        at=datetime.now(UTC),
        flights=[Flight.from_state(s) for s in states],
        removed=sorted(before.difference(sub.view.inside)),
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
        yield _snapshot(ctx, hub, sub)
        while True:
            batch = await sub.next()
            ctx.loaders = make_loaders(ctx.stores, ctx.settings)
            if batch.resync:
                yield _snapshot(ctx, hub, sub, dropped=batch.dropped)
                continue
            yield FlightUpdateBatch(
                cycle_id=batch.cycle_id,
                at=batch.at,
                flights=[Flight.from_state(s) for s in batch.flights],
                removed=batch.removed,
                dropped_batches=batch.dropped,
                snapshot=False,
            )


async def track_updates(info: Info[Context, None], icao24: str) -> AsyncGenerator[TrackPoint, None]:
    """Each new position of one aircraft, starting with its latest known one."""
    ctx = info.context
    hub = _hub(ctx)
    code = _args.icao24(icao24)
    with hub.subscribe(UpdateFilter(icao24=frozenset((code,)))) as sub:
        latest = ctx.stores.flights.latest(code)
        last = None
        if latest is not None and latest.has_position:
            last = latest.time
            yield TrackPoint.from_state(latest)
        while True:
            batch = await sub.next()
            for state in batch.flights:
                if state.has_position and (last is None or state.time > last):
                    last = state.time
                    yield TrackPoint.from_state(state)
