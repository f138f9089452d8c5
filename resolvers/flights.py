"""Root resolvers for flights and tracks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from strawberry.types import Info

from domain import FlightState
from live.subscribers import UpdateHub
from resolvers.subscriptions import shared_flight
from schema import arguments
from schema.context import Context
from schema.flight import Flight, FlightConnection
from schema.inputs import BoundingBoxInput
from schema.track import Track
from storage.base import FlightFilter, FlightRepository, Page, live_start
from storage.offload import offload


async def flights(
    info: Info[Context, None],
    bbox: BoundingBoxInput | None = None,
    callsign_prefix: str | None = None,
    origin_country: str | None = None,
    on_ground: bool | None = None,
    since: datetime | None = None,
    first: int = 100,
    after: str | None = None,
) -> FlightConnection:
    """The latest state of each aircraft seen recently, filtered, ordered by icao24."""
    ctx = info.context
    arguments.page_size(first, ctx.settings.max_page_size)
    flt = FlightFilter(
        bbox=bbox.to_domain() if bbox else None,
        callsign_prefix=callsign_prefix,
        origin_country=origin_country,
        on_ground=on_ground,
        since=arguments.aware("since", since),
    )
    page, nodes = await offload(
        _live_page, ctx.stores.flights, ctx.hub, flt, ctx.settings.live_window_s, first, after
    )
    return FlightConnection.from_page(page, nodes)


def _live_page(
    repo: FlightRepository,
    hub: UpdateHub | None,
    flt: FlightFilter,
    live_window_s: float,
    first: int,
    after: str | None,
) -> tuple[Page[FlightState], list[Flight] | None]:
    """One page of ``flt`` within the live window (``flt.since`` at the latest), and its
    flights as every request of this cycle shares them (``None``: not shared).

    Read from the states the hub holds (``UpdateHub.held_for``): the same page as the
    store's once the hub has taken the store's newest cycle, and the hub's previous cycle
    while it takes it; else, and in a process without a hub, from the store."""
    newest = repo.newest_contact()
    held = None if hub is None or newest is None else hub.held_for(newest)
    as_of = newest if held is None else held.newest
    if as_of is not None:
        start = live_start(as_of, live_window_s)
        flt = replace(flt, since=start if flt.since is None else max(flt.since, start))
    if held is not None:
        page = held.search(flt, first=first, after=after)
        assert hub is not None
        return page, (held.shown(page.items) if hub.present is shared_flight else None)
    return repo.search_latest(flt, first=first, after=after), None


async def flight(info: Info[Context, None], icao24: str) -> Flight | None:
    """The latest state of one aircraft; null when it was never seen."""
    state = await offload(info.context.stores.flights.latest, arguments.icao24(icao24))
    return None if state is None else Flight.from_state(state)


async def track(
    info: Info[Context, None],
    icao24: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Track | None:
    """The positions of one aircraft over a time range; null when it was never seen."""
    code = arguments.icao24(icao24)
    latest = await offload(info.context.stores.flights.latest, code)
    if latest is None:
        return None
    window = arguments.track_window(start, end, reference=latest.last_contact)
    states = await info.context.loaders.track.load((code, *window))
    return Track.from_states(code, states)
