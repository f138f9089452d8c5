"""The publication of each ingest cycle to AppSync's real-time engine.

For each FlightDataProcessed event (its detail names the aircraft stored that cycle,
``changed``) the cycle's states are read back once and grouped by tile
(``appsync.tiles``); each tile with changes is one ``publishFlightUpdates(tile:, batch:)``
mutation per ``MAX_BATCH`` aircraft, authorised with IAM. AppSync then delivers each batch
to every ``flightUpdates`` subscription whose filter takes the tile: the fan-out is
AppSync's.

A batch is the ``FlightUpdateBatch`` the ASGI server sends, serialised by the same
Strawberry types: every scalar field of each ``Flight`` (the mutation selects them all, and
AppSync delivers only what the mutation selected). Nested objects (a flight's
``nearestAirport``, ``route``, ``track``) are not published: a subscriber asks the query
API for them. ``removed`` is empty and ``snapshot`` false: a subscriber starts from a
``flights`` query and drops aircraft whose ``lastContact`` grows old.

Aircraft that subscriptions watch by name (``storage.base.WatchRepository``, registered
by the resolver at subscribe time) are published alone as well, when they moved: for
``flightUpdates(icao24:)`` one batch of the aircraft (tile ``AIRCRAFT_TILE``, ``aircraft``
its icao24), for ``trackUpdates`` one ``publishTrackUpdate(icao24:, point:)`` with the
``TrackPoint`` the ASGI server sends. At most ``MAX_WATCHED`` of each a cycle, the rest
logged. Publishing every aircraft alone instead would be about 5,400 mutations a cycle.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import strawberry
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from appsync.tiles import AIRCRAFT_TILE, tile_of
from domain import FlightState
from live.processed_cycle import Cycle
from schema.flight import Flight
from schema.live import FlightUpdateBatch
from schema.track import TrackPoint
from storage.stores import Stores

log = logging.getLogger(__name__)

# Posts one GraphQL operation (query, variables) and returns its ``data``.
Post = Callable[[str, Mapping[str, Any]], Awaitable[Mapping[str, Any]]]

_CONCURRENT_POSTS = 16
# Aircraft per publication: about 490 bytes each with every leaf field, so 300 keep a
# batch near 150 KB, under AppSync's 240 KB limit on a subscription message.
MAX_BATCH = 300
# Watched aircraft published alone a cycle, per subscription field: one mutation each.
MAX_WATCHED = 2_000


@strawberry.type
class _Publication:
    @strawberry.field
    def batch(self, root: strawberry.Parent[FlightUpdateBatch | TrackPoint]) -> FlightUpdateBatch:
        assert isinstance(root, FlightUpdateBatch)
        return root

    @strawberry.field
    def point(self, root: strawberry.Parent[FlightUpdateBatch | TrackPoint]) -> TrackPoint:
        assert isinstance(root, TrackPoint)
        return root


_SERIALISER = strawberry.Schema(query=_Publication)


def _selection(kind: GraphQLObjectType) -> str:
    """Every leaf field of ``kind``, and of its ``flights``."""
    fields = []
    for name, field in kind.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            fields.append(name)
        elif name == "flights" and isinstance(named, GraphQLObjectType):
            fields.append(f"flights {_selection(named)}")
    return "{ " + " ".join(fields) + " }"


def _type(name: str) -> GraphQLObjectType:
    kind = _SERIALISER._schema.get_type(name)
    assert isinstance(kind, GraphQLObjectType)
    return kind


BATCH_SELECTION = _selection(_type("FlightUpdateBatch"))
POINT_SELECTION = _selection(_type("TrackPoint"))
PUBLISH_FLIGHTS = (
    "mutation PublishFlightUpdates($tile: String!, $batch: AWSJSON!) { "
    f"publishFlightUpdates(tile: $tile, batch: $batch) {BATCH_SELECTION[:-1]}tile aircraft }} }}"
)
PUBLISH_TRACK = (
    "mutation PublishTrackUpdate($icao24: String!, $point: AWSJSON!) { "
    f"publishTrackUpdate(icao24: $icao24, point: $point) {POINT_SELECTION[:-1]}icao24 }} }}"
)


def _serialise(field: str, selection: str, value: FlightUpdateBatch | TrackPoint) -> dict[str, Any]:
    result = _SERIALISER.execute_sync(f"{{ {field} {selection} }}", root_value=value)
    if result.errors:
        raise result.errors[0]
    assert result.data is not None
    return dict(result.data[field])


def serialise(batch: FlightUpdateBatch) -> dict[str, Any]:
    """``batch`` as the ASGI server's subscriptions send it (every leaf field)."""
    return _serialise("batch", BATCH_SELECTION, batch)


def serialise_point(point: TrackPoint) -> dict[str, Any]:
    """``point`` as the ASGI server's ``trackUpdates`` sends it (every field)."""
    return _serialise("point", POINT_SELECTION, point)


def by_tile(states: Sequence[FlightState]) -> dict[str, list[FlightState]]:
    """The states with a position, per tile, in the order given."""
    tiles: dict[str, list[FlightState]] = defaultdict(list)
    for state in states:
        if state.latitude is not None and state.longitude is not None:
            tiles[tile_of(state.latitude, state.longitude)].append(state)
    return dict(tiles)


class Publisher:
    """Publishes cycles from ``stores`` with ``post`` (an IAM-signed AppSync client)."""

    def __init__(self, stores: Stores, post: Post) -> None:
        self.stores = stores
        self.post = post

    async def publish(self, cycle: Cycle) -> dict[str, Any]:
        states = self.stores.flights.latest_many(list(cycle.changed))
        changed = [states[c] for c in cycle.changed if c in states]
        tiles = by_tile(changed)
        limit = asyncio.Semaphore(_CONCURRENT_POSTS)

        async def post(what: str, operation: str, variables: Mapping[str, Any]) -> bool:
            async with limit:
                try:
                    await self.post(operation, variables)
                except Exception:  # one publication must not cost the others theirs
                    log.exception("publishing %s of cycle %s failed", what, cycle.cycle_id)
                    return False
            return True

        def flights(tile: str, group: Sequence[FlightState]) -> Awaitable[bool]:
            batch = FlightUpdateBatch(
                cycle_id=cycle.cycle_id,
                at=cycle.at,
                published_at=cycle.published_at,
                flights=[Flight.from_state(s) for s in group],
                removed=[],
                dropped_batches=0,
                snapshot=False,
            )
            body, what = serialise(batch), f"tile {tile}"
            if tile == AIRCRAFT_TILE:
                [alone] = group
                body["aircraft"], what = alone.icao24, f"the batch of {alone.icao24}"
            variables = {"tile": tile, "batch": orjson.dumps(body).decode()}
            return post(what, PUBLISH_FLIGHTS, variables)

        def track(state: FlightState) -> Awaitable[bool]:
            point = orjson.dumps(serialise_point(TrackPoint.from_state(state))).decode()
            variables = {"icao24": state.icao24, "point": point}
            return post(f"the track of {state.icao24}", PUBLISH_TRACK, variables)

        batches = [
            (t, g[i : i + MAX_BATCH]) for t, g in tiles.items() for i in range(0, len(g), MAX_BATCH)
        ]
        alone = self._watched("flightUpdates", cycle, changed)
        tracks = self._watched("trackUpdates", cycle, changed)
        done = await asyncio.gather(
            *(flights(t, g) for t, g in batches),
            *(flights(AIRCRAFT_TILE, [s]) for s in alone),
            *(track(s) for s in tracks),
        )
        return {
            "cycle_id": cycle.cycle_id,
            "tiles": len(tiles),
            "batches": len(batches),
            "aircraft_batches": len(alone),
            "tracks": len(tracks),
            "failed": done.count(False),
            "aircraft": sum(map(len, tiles.values())),
        }

    def _watched(
        self, field: str, cycle: Cycle, changed: Sequence[FlightState]
    ) -> list[FlightState]:
        """The states of ``changed`` whose aircraft ``field``'s subscriptions watch."""
        watched = self.stores.watches.watched(field, datetime.now(UTC))
        found = [s for s in changed if s.icao24 in watched and s.has_position]
        if len(found) > MAX_WATCHED:
            log.warning(
                "cycle %s: %d aircraft watched by %s moved, %d published",
                cycle.cycle_id,
                len(found),
                field,
                MAX_WATCHED,
            )
        return found[:MAX_WATCHED]
