"""flightUpdates as served: every subscriber of a cycle gets the same ``Flight`` objects,
completed once per selection by the fast executor. For random documents and boxes it must
answer exactly what plain Strawberry (graphql-core's own executor, nothing shared) answers
to the same subscribers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta, tzinfo
from typing import Any

import orjson
import pytest
import strawberry
from graphql import GraphQLError

from config import Settings
from domain import FlightState, PositionSource
from domain.leg import FlightPhase
from live.channel import InProcessBroadcaster
from live.cycle_update import CycleUpdate
from live.subscribers import UpdateHub
from resolvers.root import Query, Subscription, build_schema
from resolvers.subscriptions import shared_flight
from schema._executor import RESPONSE_MEMO, FastExecutionContext, encode_json
from schema.context import Context, make_loaders
from testkit import T0, count_built_events, make_state

# Flight's fields without arguments or sub-selections, as a dashboard may select them.
FIELDS = [
    "icao24",
    "nonIcao",
    "callsign",
    "originCountry",
    "timePosition",
    "lastContact",
    "latitude",
    "longitude",
    "baroAltitudeM",
    "geoAltitudeM",
    "onGround",
    "velocityMps",
    "trueTrackDeg",
    "verticalRateMps",
    "squawk",
    "spi",
    "positionSource",
    "category",
    "source",
    "region",
    "gridCell",
    "phase",
    "__typename",
]


def _states(rng: random.Random, n: int, cycle: int) -> list[FlightState]:
    at = T0 + timedelta(seconds=10 * cycle)
    states = []
    for i in range(n):
        if cycle and rng.random() < 0.1:  # not heard from this cycle
            continue
        positioned = rng.random() > 0.05
        states.append(
            make_state(
                f"{i:06x}",
                time=at,
                latitude=rng.uniform(-89.9, 89.9) if positioned else None,
                longitude=rng.uniform(-180, 180) if positioned else None,
                callsign=rng.choice([None, f"AFR{i}"]),
                geo_altitude_m=rng.choice([None, rng.uniform(0, 12_000)]),
                on_ground=rng.random() < 0.1,
                position_source=rng.choice([None, *PositionSource]),
                category=rng.choice([None, rng.randrange(21)]),
                region=rng.choice([None, "europe", "asia"]),
                phase=rng.choice([None, *FlightPhase]),
            )
        )
    return states


def _box(rng: random.Random) -> dict[str, float]:
    south = rng.uniform(-90, 80)
    west = rng.uniform(-180, 180)
    east = west + rng.uniform(0.5, 120)
    if east > 180:  # across the antimeridian
        east -= 360
    return {
        "south": south,
        "north": min(90.0, south + rng.uniform(0.5, 60)),
        "west": west,
        "east": east,
    }


# FlightUpdateBatch's fields besides ``flights``.
HEADER = ["cycleId", "at", "publishedAt", "snapshot", "droppedBatches", "removed", "__typename"]


def _document(rng: random.Random) -> tuple[str, dict[str, Any]]:
    """A subscription selecting random fields of each batch and flight, in random order:
    aliases, a fragment, and a field that ``$on`` includes or skips."""
    picked = rng.sample(FIELDS, rng.randint(1, 8))
    selection = " ".join(
        f"a{i}: {name}" if name != "__typename" and rng.random() < 0.2 else name
        for i, name in enumerate(picked)
    )
    extra = rng.choice(FIELDS)
    selection += f" {extra} @include(if: $on)"
    fragment = ""
    if rng.random() < 0.5:
        selection += " ...more"
        fragment = f" fragment more on Flight {{ {rng.choice(FIELDS)} icao24 }}"
    header = [
        f"h{i}: {name}" if name != "__typename" and rng.random() < 0.2 else name
        for i, name in enumerate(rng.sample(HEADER, rng.randint(1, len(HEADER))))
    ]
    header.insert(rng.randint(0, len(header)), f"flights {{ {selection} }}")
    if rng.random() < 0.3:
        header.append(f"{rng.choice(HEADER)} @skip(if: $on)")
    query = (
        "subscription($bbox: BoundingBoxInput, $on: Boolean!) {"
        f" flightUpdates(bbox: $bbox) {{ {' '.join(header)} }} }}{fragment}"
    )
    return query, {"bbox": _box(rng), "on": rng.random() < 0.5}


def _context(hub: UpdateHub) -> Context:
    settings = Settings.from_env({})
    stores: Any = None  # flightUpdates reads the hub's memory, never a store
    return Context(
        stores=stores, settings=settings, loaders=make_loaders(stores, settings), hub=hub
    )


async def _stream(
    schema: strawberry.Schema, query: str, variables: dict[str, Any] | None, hub: UpdateHub
) -> AsyncGenerator[Any, None]:
    stream = await schema.subscribe(query, variables, context_value=_context(hub))
    assert isinstance(stream, AsyncGenerator)
    return stream


def _answer(result: Any) -> tuple[Any, list[Any]]:
    errors: list[GraphQLError] = result.errors or []
    return result.data, [e.formatted for e in errors]


class _Frozen(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Frozen:
        return cls.fromtimestamp(T0.timestamp(), tz)


@pytest.mark.parametrize("seed", range(4))
def test_shared_results_match_plain_strawberry(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Also as encoded, key order included: the served batches are built straight from
    the cycle's objects (``render_event``), not executed."""
    rendered = count_built_events(monkeypatch)
    # A snapshot is stamped when it is made: both streams' at the same instant.
    monkeypatch.setattr("resolvers.subscriptions.datetime", _Frozen)
    asyncio.run(_compare(random.Random(seed)))
    assert rendered
    assert all(rendered)


async def _compare(rng: random.Random) -> None:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=25, present=shared_flight)
    hub.dispatch(CycleUpdate("cycle-0", T0, _states(rng, 1000, 0)))
    hub.ready.set()
    served = build_schema()
    plain = strawberry.Schema(query=Query, subscription=Subscription)
    streams: list[tuple[AsyncGenerator[Any, None], AsyncGenerator[Any, None]]] = []
    for _ in range(30):
        query, variables = _document(rng)
        streams.append(
            (
                await _stream(served, query, variables, hub),
                await _stream(plain, query, variables, hub),
            )
        )

    answers = 0
    for cycle in range(3):
        if cycle:
            hub.dispatch(CycleUpdate(f"cycle-{cycle}", T0, _states(rng, 1000, cycle)))
        for fast, reference in streams:
            got, expected = _answer(await anext(fast)), _answer(await anext(reference))
            assert got == expected
            assert encode_json(got[0]) == orjson.dumps(expected[0])
            assert not got[1]
            answers += len(got[0]["flightUpdates"]["flights"])
    assert answers > 1_000  # the boxes held aircraft: the comparison compared something
    for fast, reference in streams:
        await fast.aclose()
        await reference.aclose()


def test_subscribers_of_one_cycle_share_completed_flights() -> None:
    asyncio.run(_share())


async def _share() -> None:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=25, present=shared_flight)
    hub.ready.set()
    served = build_schema()
    query = "subscription { flightUpdates { flights { icao24 latitude } } }"
    streams = [await _stream(served, query, None, hub) for _ in range(2)]
    for stream in streams:
        await anext(stream)
    hub.dispatch(CycleUpdate("cycle-1", T0, [make_state("aaaaaa"), make_state("bbbbbb")]))
    first, second = [(await anext(s)).data["flightUpdates"]["flights"] for s in streams]
    assert first == [
        {"icao24": "aaaaaa", "latitude": 48.85},
        {"icao24": "bbbbbb", "latitude": 48.85},
    ]
    assert all(a is b for a, b in zip(first, second, strict=True))


def test_subscribers_with_boxes_share_rows_completed_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A box subscriber's flights are runs of latitude rows: each row is completed (and
    encoded) once a cycle for a selection, however many subscribers' boxes take it."""
    rows: list[int] = []
    complete = FastExecutionContext._completed_row

    def counted(self: FastExecutionContext, plan: Any, items: list[Any]) -> Any:
        rows.append(len(items))
        return complete(self, plan, items)

    monkeypatch.setattr(FastExecutionContext, "_completed_row", counted)
    asyncio.run(_share_rows())
    # Two rows (48° with two aircraft, 50° with one), each once for the three subscribers.
    assert rows == [2, 1]


async def _share_rows() -> None:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=25, present=shared_flight)
    hub.ready.set()
    served = build_schema()
    query = (
        "subscription($bbox: BoundingBoxInput) { flightUpdates(bbox: $bbox) "
        "{ flights { icao24 latitude } } }"
    )
    boxes = [
        {"south": 40.0, "north": 55.0, "west": 0.0, "east": 10.0},
        {"south": 48.0, "north": 51.0, "west": 2.0, "east": 5.0},
        {"south": 48.9, "north": 50.5, "west": 2.0, "east": 5.0},  # cuts both rows
    ]
    streams = [await _stream(served, query, {"bbox": box}, hub) for box in boxes]
    for stream in streams:
        await anext(stream)
    states = [
        make_state("aaaaaa", latitude=48.5, longitude=2.5),
        make_state("bbbbbb", latitude=48.95, longitude=3.0),
        make_state("cccccc", latitude=50.2, longitude=4.0),
    ]
    hub.dispatch(CycleUpdate("cycle-1", T0, states))
    got = [
        [f["icao24"] for f in (await anext(s)).data["flightUpdates"]["flights"]] for s in streams
    ]
    assert got == [
        ["aaaaaa", "bbbbbb", "cccccc"],
        ["aaaaaa", "bbbbbb", "cccccc"],
        ["bbbbbb", "cccccc"],
    ]


def test_flights_made_after_a_batch_are_completed_for_its_selection_ahead() -> None:
    """The hub makes each cycle's flights between requests, before any subscriber's batch
    takes them; they are completed there for the selections that subscribers used lately,
    not by the first subscriber whose batch takes their row."""
    asyncio.run(_ahead())


async def _ahead() -> None:
    hub = UpdateHub(InProcessBroadcaster(), live_window_s=25, present=shared_flight)
    hub.ready.set()
    served = build_schema()
    fields = "icao24 latitude onGround"  # no other test selects these alone
    query = (
        "subscription($bbox: BoundingBoxInput) { flightUpdates(bbox: $bbox) "
        f"{{ flights {{ {fields} }} }} }}"
    )
    stream = await _stream(
        served, query, {"bbox": {"south": 40.0, "north": 55.0, "west": 0.0, "east": 10.0}}, hub
    )
    await anext(stream)
    made = shared_flight(make_state("bbbbbb", latitude=48.5, longitude=2.5))
    assert {"icao24": "bbbbbb", "latitude": 48.5, "onGround": False} not in _completed(made)

    hub.dispatch(CycleUpdate("cycle-1", T0, [make_state("aaaaaa", latitude=48.5, longitude=2.5)]))
    await anext(stream)
    made = shared_flight(make_state("bbbbbb", latitude=48.5, longitude=2.5))
    assert {"icao24": "bbbbbb", "latitude": 48.5, "onGround": False} in _completed(made)
    await stream.aclose()


def _completed(flight: Any) -> list[dict[str, Any]]:
    return [dict(data) for data in getattr(flight, RESPONSE_MEMO).values()]
