"""``FastExecutionContext`` must be indistinguishable from Strawberry's default executor.

Every query runs against two schemas built from the same types, one with the fast
executor and one without, synchronously and asynchronously, and the ``data`` (key
order included) and ``errors`` (message, path, locations) must match exactly.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import json
import math
import tracemalloc
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import ParserCache, SchemaExtension, ValidationCache
from strawberry.permission import BasePermission
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionResult, Info

from schema._executor import (
    RESPONSE_MEMO,
    FastExecutionContext,
    SharedResponse,
    _shared,
    encode_json,
)
from schema.streaming import subscription_stream
from testkit import count_built_events

N_FLIGHTS = 1_000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


@strawberry.enum
class Status(enum.Enum):
    AIRBORNE = "airborne"
    LANDED = "landed"


@strawberry.type
class Airport:
    code: str
    name: str | None


@strawberry.type
class Point:
    lat: float
    lon: float
    alt: int | None


class AlwaysAllowed(BasePermission):
    message = "never shown"

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


@strawberry.type
class Flight:
    icao24: str
    callsign: str | None
    origin_country: str
    latitude: float | None
    longitude: float | None
    altitude: int | None
    velocity: float
    on_ground: bool
    squawk: strawberry.ID | None
    status: Status
    last_contact: datetime
    time_position: datetime | None
    airport: Airport | None
    track: list[Point]
    guarded: str = strawberry.field(permission_classes=[AlwaysAllowed], default="ok")

    @strawberry.field
    def label(self) -> str:
        return f"{self.icao24}/{self.callsign}"

    @strawberry.field
    def altitude_ft(self, factor: float = 3.28084) -> float | None:
        return None if self.altitude is None else self.altitude * factor


@strawberry.interface
class Vehicle:
    name: str


@strawberry.type
class Ship(Vehicle):
    tonnage: int


@strawberry.type
class Car(Vehicle):
    seats: int


@dataclass
class Impostor:
    """Not a Flight: lacks most attributes, so reading them raises AttributeError."""

    icao24: str


def make_flight(i: int, **overrides: Any) -> Flight:
    values: dict[str, Any] = {
        "icao24": f"{i:06x}",
        "callsign": None if i % 7 == 0 else f"CS{i:04d}",
        "origin_country": "Germany" if i % 2 else "France",
        "latitude": None if i % 5 == 0 else 45.0 + i / 1000,
        "longitude": None if i % 5 == 0 else 7.5 - i / 1000,
        "altitude": None if i % 3 == 0 else 1000 + i,
        "velocity": float(i) / 3,
        "on_ground": i % 4 == 0,
        "squawk": None if i % 6 == 0 else f"{i % 7777:04d}",
        "status": Status.LANDED if i % 4 == 0 else Status.AIRBORNE,
        "last_contact": EPOCH + timedelta(seconds=i),
        "time_position": None if i % 9 == 0 else EPOCH + timedelta(seconds=i - 1),
        "airport": None if i % 2 else Airport(code=f"A{i % 10}", name=None),
        "track": [Point(lat=float(i), lon=float(k), alt=None if k else i) for k in range(2)],
    }
    values.update(overrides)
    return Flight(**values)


FLIGHTS = [make_flight(i) for i in range(N_FLIGHTS)]


async def _later(value: Any) -> Any:
    return value


@strawberry.type
class Query:
    @strawberry.field
    def flights(self) -> list[Flight]:
        return FLIGHTS

    @strawberry.field
    async def async_flights(self) -> list[Flight]:
        return FLIGHTS[:50]

    @strawberry.field
    def empty_flights(self) -> list[Flight]:
        return []

    @strawberry.field
    def broken_flights(self) -> list[Flight | None]:
        # Nullable items: a null in a non-null field nulls just that item.
        return [
            make_flight(1),
            None,
            make_flight(2, origin_country=None),
            make_flight(3, velocity=None),
            make_flight(4),
        ]

    @strawberry.field
    def strict_flights(self) -> list[Flight] | None:
        # Non-null items: the null propagates to the (nullable) list field.
        return [make_flight(1), make_flight(2, origin_country=None), make_flight(3)]

    @strawberry.field
    def strict_with_null_item(self) -> list[Flight] | None:
        return [make_flight(1), None]  # type: ignore[list-item]

    @strawberry.field
    def bad_values(self) -> list[Flight | None]:
        return [
            make_flight(10, altitude=2**40),
            make_flight(11, latitude=math.nan),
            make_flight(12, velocity=math.inf),
            make_flight(13, callsign={"not": "a string"}),
            make_flight(14, status="bogus"),
            make_flight(15, altitude=12.0, velocity=7, callsign=42, on_ground=1),
            make_flight(16, last_contact="not a datetime"),
            make_flight(17, altitude=True),
            make_flight(18, callsign=ValueError("stored exception")),
            make_flight(19, squawk=1234, latitude=3),
        ]

    @strawberry.field
    def odd_items(self) -> list[Flight | None]:
        return [
            make_flight(20),
            Impostor(icao24="abcdef"),  # type: ignore[list-item]
            ValueError("the item itself is an exception"),  # type: ignore[list-item]
            make_flight(21),
        ]

    @strawberry.field
    def ships(self) -> list[Ship | None]:
        # Strawberry's `is_type_of` accepts any Vehicle (the Car), rejects the Impostor.
        return [
            Ship(name="Ever Given", tonnage=220_940),
            Car(name="Beetle", seats=4),  # type: ignore[list-item]
            Impostor(icao24="abcdef"),  # type: ignore[list-item]
        ]

    @strawberry.field
    def vehicles(self) -> list[Vehicle]:
        return [Ship(name="Ever Given", tonnage=220_940), Car(name="Beetle", seats=4)]

    @strawberry.field
    async def awaitable_items(self) -> list[Flight | None]:
        return [make_flight(30), _later(make_flight(31)), _later(None), make_flight(32)]  # type: ignore[list-item]


FAST = strawberry.Schema(Query, types=[Ship, Car], execution_context_class=FastExecutionContext)
DEFAULT = strawberry.Schema(Query, types=[Ship, Car])

ALL_LEAVES = """
    icao24 callsign originCountry latitude longitude altitude velocity onGround
    squawk status lastContact timePosition
"""

QUERIES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "plain": (f"{{ flights {{ {ALL_LEAVES} }} }}", None),
    "aliases": (
        "{ flights { id: icao24 cs: callsign icao24 alt: altitude icao24 when: lastContact } }",
        None,
    ),
    "fragments": (
        """
        query { flights { ...Ident ...Position status } }
        fragment Ident on Flight { icao24 callsign }
        fragment Position on Flight { latitude longitude icao24 }
        """,
        None,
    ),
    "inline_fragments": (
        "{ flights { ... on Flight { icao24 squawk } ... { onGround } velocity } }",
        None,
    ),
    "typename": ("{ flights { __typename kind: __typename icao24 } }", None),
    "custom_resolver_falls_back": ("{ flights { icao24 label } }", None),
    "arguments_fall_back": ("{ flights { icao24 altitudeFt(factor: 2) } }", None),
    "permission_falls_back": ("{ flights { icao24 guarded } }", None),
    "nested_object_falls_back": ("{ flights { icao24 airport { code name } } }", None),
    "nested_list_of_plain_objects": (
        "{ flights { icao24 track { lat lon alt __typename } } }",
        None,
    ),
    "two_root_fields": (
        "{ a: flights { icao24 } b: flights { callsign label } }",
        None,
    ),
    "everything_skipped": (
        "{ flights { icao24 @skip(if: true) ... @include(if: false) { callsign } } }",
        None,
    ),
    "empty_list": ("{ emptyFlights { icao24 } }", None),
    "null_in_non_null_field_nullable_items": (
        "{ brokenFlights { icao24 originCountry velocity callsign } }",
        None,
    ),
    "null_in_non_null_field_non_null_items": (
        "{ strictFlights { icao24 originCountry } flights { icao24 } }",
        None,
    ),
    "null_item_in_non_null_items": ("{ strictWithNullItem { icao24 } }", None),
    "serialization_errors": (
        "{ badValues { icao24 altitude latitude velocity callsign status lastContact onGround } }",
        None,
    ),
    "missing_attributes": ("{ oddItems { icao24 callsign } }", None),
    "is_type_of_failure": ("{ ships { name tonnage } }", None),
    "abstract_items_fall_back": (
        "{ vehicles { name ... on Ship { tonnage } ... on Car { seats } } }",
        None,
    ),
}

DIRECTIVE_QUERY = """
query ($a: Boolean!, $b: Boolean!) {
  flights {
    icao24
    callsign @include(if: $a)
    latitude @skip(if: $b)
    ... @include(if: $b) { longitude }
    ...Extra @skip(if: $a)
    label @include(if: false)
  }
}
fragment Extra on Flight { altitude status }
"""

for a in (False, True):
    for b in (False, True):
        QUERIES[f"skip_include_a={a}_b={b}"] = (DIRECTIVE_QUERY, {"a": a, "b": b})


def _errors(result: ExecutionResult | GraphQLExecutionResult) -> list[Any]:
    return [(e.message, e.path, e.locations) for e in result.errors or ()]


def _assert_same(fast: ExecutionResult, default: ExecutionResult) -> None:
    assert fast.data == default.data
    # `==` ignores key order; the response must not.
    assert json.dumps(fast.data) == json.dumps(default.data)
    assert _errors(fast) == _errors(default)


@pytest.mark.parametrize(("query", "variables"), QUERIES.values(), ids=QUERIES.keys())
def test_sync_matches_default(query: str, variables: dict[str, Any] | None) -> None:
    fast = FAST.execute_sync(query, variable_values=variables)
    default = DEFAULT.execute_sync(query, variable_values=variables)
    _assert_same(fast, default)


@pytest.mark.parametrize(("query", "variables"), QUERIES.values(), ids=QUERIES.keys())
def test_async_matches_default(query: str, variables: dict[str, Any] | None) -> None:
    fast = asyncio.run(FAST.execute(query, variable_values=variables))
    default = asyncio.run(DEFAULT.execute(query, variable_values=variables))
    _assert_same(fast, default)


@pytest.mark.parametrize(
    "query",
    [
        "{ asyncFlights { icao24 status lastContact } }",
        "{ awaitableItems { icao24 callsign } }",
        "{ awaitableItems { icao24 label } }",
    ],
)
def test_async_only_shapes_match_default(query: str) -> None:
    fast = asyncio.run(FAST.execute(query))
    default = asyncio.run(DEFAULT.execute(query))
    _assert_same(fast, default)


def test_expected_errors_are_really_there() -> None:
    """Guard against both executors agreeing on a vacuous result."""
    result = FAST.execute_sync(QUERIES["null_in_non_null_field_nullable_items"][0])
    assert result.data is not None
    items = result.data["brokenFlights"]
    assert [item is None for item in items] == [False, True, True, True, False]
    assert _errors(result)[0][:2] == (
        "Cannot return null for non-nullable field Flight.originCountry.",
        ["brokenFlights", 2, "originCountry"],
    )
    strict = FAST.execute_sync(QUERIES["null_in_non_null_field_non_null_items"][0])
    assert strict.data is not None
    assert strict.data["strictFlights"] is None
    assert len(strict.data["flights"]) == N_FLIGHTS
    assert [e.path for e in strict.errors or ()] == [["strictFlights", 1, "originCountry"]]


@pytest.fixture
def object_completions(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count default per-object completions, by object type name."""
    counts: dict[str, int] = {}
    original = FastExecutionContext.complete_object_value

    def counting(self: FastExecutionContext, return_type: Any, *args: Any) -> Any:
        counts[return_type.name] = counts.get(return_type.name, 0) + 1
        return original(self, return_type, *args)

    monkeypatch.setattr(FastExecutionContext, "complete_object_value", counting)
    return counts


def test_plain_list_takes_fast_path(object_completions: dict[str, int]) -> None:
    result = FAST.execute_sync(QUERIES["plain"][0])
    assert result.errors is None
    assert result.data is not None
    assert len(result.data["flights"]) == N_FLIGHTS
    assert "Flight" not in object_completions


def test_typename_and_aliases_take_fast_path(object_completions: dict[str, int]) -> None:
    for name in ("typename", "aliases", "fragments", "inline_fragments"):
        FAST.execute_sync(QUERIES[name][0])
    assert "Flight" not in object_completions


def test_fallback_is_per_item_for_bad_items(object_completions: dict[str, int]) -> None:
    FAST.execute_sync(QUERIES["null_in_non_null_field_nullable_items"][0])
    # Only the two flights with a null in a non-null field go the default way.
    assert object_completions == {"Flight": 2}


def test_custom_resolver_forces_whole_list_fallback(object_completions: dict[str, int]) -> None:
    FAST.execute_sync(QUERIES["custom_resolver_falls_back"][0])
    assert object_completions["Flight"] == N_FLIGHTS


def test_inner_plain_list_is_fast_inside_fallback(object_completions: dict[str, int]) -> None:
    FAST.execute_sync(QUERIES["nested_list_of_plain_objects"][0])
    assert object_completions == {"Flight": N_FLIGHTS}


def test_async_plain_list_takes_fast_path(object_completions: dict[str, int]) -> None:
    result = asyncio.run(FAST.execute("{ asyncFlights { icao24 velocity } }"))
    assert result.errors is None
    assert "Flight" not in object_completions


class ResolveHook(SchemaExtension):
    """A schema extension hooking `resolve` turns into graphql-core middleware."""

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        value = _next(root, info, *args, **kwargs)
        return value.upper() if isinstance(value, str) else value


def test_middleware_forces_fallback(object_completions: dict[str, int]) -> None:
    fast = strawberry.Schema(
        Query, extensions=[ResolveHook], execution_context_class=FastExecutionContext
    )
    default = strawberry.Schema(Query, extensions=[ResolveHook])
    query = "{ flights { icao24 callsign } }"
    _assert_same(fast.execute_sync(query), default.execute_sync(query))
    assert object_completions["Flight"] == N_FLIGHTS


INCREMENTAL = StrawberryConfig(enable_experimental_incremental_execution=True)
FAST_INCREMENTAL = strawberry.Schema(
    Query, types=[Ship, Car], execution_context_class=FastExecutionContext, config=INCREMENTAL
)
DEFAULT_INCREMENTAL = strawberry.Schema(Query, types=[Ship, Car], config=INCREMENTAL)


async def _all_payloads(schema: strawberry.Schema, query: str) -> list[Any]:
    result: Any = await schema.execute(query)
    if not hasattr(result, "initial_result"):
        return [(result.data, _errors(result))]
    payloads = [result.initial_result.formatted]
    payloads.extend([payload.formatted async for payload in result.subsequent_results])
    return payloads


@pytest.mark.parametrize(
    "query",
    [
        "{ brokenFlights @stream(initialCount: 1) { icao24 originCountry } }",
        "{ brokenFlights { icao24 ... @defer { callsign originCountry } } }",
        "{ ... @defer { brokenFlights { icao24 originCountry } } }",
        "{ flights @stream(initialCount: 0, if: false) { icao24 } }",
    ],
)
def test_incremental_delivery_matches_default(query: str) -> None:
    fast = asyncio.run(_all_payloads(FAST_INCREMENTAL, query))
    default = asyncio.run(_all_payloads(DEFAULT_INCREMENTAL, query))
    assert fast == default


@strawberry.type
class Feed:
    @strawberry.subscription
    async def flights(self, events: int) -> AsyncGenerator[list[Flight], None]:
        for i in range(events):
            yield [make_flight(i * 10 + k) for k in range(5)]


FEED_FAST = strawberry.Schema(
    Query, subscription=Feed, execution_context_class=FastExecutionContext
)
FEED_DEFAULT = strawberry.Schema(Query, subscription=Feed)
FEED = "subscription { flights(events: 4) { icao24 callsign latitude lastContact status } }"


async def _events(schema: strawberry.Schema) -> list[Any]:
    stream = await schema.subscribe(FEED)
    return [result async for result in stream]  # type: ignore[union-attr]


def test_subscription_events_reuse_the_plan_of_their_selection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per-event executors share the subscription's plans: built once, not per event
    (which also cost a plan kept per event for the subscription's lifetime)."""
    builds = []
    original = FastExecutionContext._build_list_plan

    def counting(self: FastExecutionContext, *args: Any) -> Any:
        builds.append(args[0].name)
        return original(self, *args)

    monkeypatch.setattr(FastExecutionContext, "_build_list_plan", counting)
    fast, default = asyncio.run(_events(FEED_FAST)), asyncio.run(_events(FEED_DEFAULT))
    assert len(fast) == 4
    for f, d in zip(fast, default, strict=True):
        _assert_same(f, d)
    assert builds == ["Flight"]


def test_shared_items_are_completed_once_per_selection() -> None:
    """Items carrying RESPONSE_MEMO keep their completed dict per selection signature."""
    shared = [make_flight(i) for i in range(3)]
    for flight in shared:
        setattr(flight, RESPONSE_MEMO, {})

    @strawberry.type
    class SharedQuery:
        @strawberry.field
        def flights(self) -> list[Flight]:
            return shared

    schema = strawberry.Schema(SharedQuery, execution_context_class=FastExecutionContext)
    plain = strawberry.Schema(SharedQuery)
    small, wide = "{ flights { icao24 } }", "{ flights { icao24 callsign status } }"
    first = schema.execute_sync(small)
    again = schema.execute_sync(small)
    other = schema.execute_sync(wide)
    assert first.data == again.data == plain.execute_sync(small).data
    assert other.data == plain.execute_sync(wide).data
    assert first.data is not None
    assert again.data is not None
    assert first.data["flights"][0] is again.data["flights"][0]  # the memoised dict itself
    assert all(len(getattr(f, RESPONSE_MEMO)) == 2 for f in shared)


def test_shared_responses_encode_as_plain_dicts_once() -> None:
    shared = [make_flight(i) for i in range(3)]
    for flight in shared:
        setattr(flight, RESPONSE_MEMO, {})

    @strawberry.type
    class SharedQuery:
        @strawberry.field
        def flights(self) -> list[Flight]:
            return shared

    schema = strawberry.Schema(SharedQuery, execution_context_class=FastExecutionContext)
    query = "{ flights { icao24 callsign status lastContact } }"
    first, again = schema.execute_sync(query).data, schema.execute_sync(query).data
    assert first is not None
    assert again is not None
    assert all(type(item) is SharedResponse for item in first["flights"])

    class Label(enum.StrEnum):
        A = "a"

    class Tagged(dict[str, Any]):
        pass

    message = {"payload": {"data": first}, "label": Label.A, "extra": Tagged(k=[1.5, None])}
    assert encode_json(message) == orjson.dumps(message)
    encoded = [item.encoded for item in first["flights"]]
    assert encode_json({"data": again}) == orjson.dumps({"data": again})
    assert [item.encoded for item in again["flights"]] == encoded  # made once, then reused
    assert all(a is b for a, b in zip(first["flights"], again["flights"], strict=True))


def test_a_finished_execution_leaves_no_reference_cycle() -> None:
    """graphql-core's execution context refers to itself through its resolver helpers;
    the fast one does not, so what an execution built is freed when it ends, not by the
    garbage collector in one long pause."""
    # Parsed and validated once, as the app's schema does: validation has cycles of its own.
    caches: list[Any] = [ParserCache, ValidationCache]
    fast = strawberry.Schema(Query, extensions=caches, execution_context_class=FastExecutionContext)
    default = strawberry.Schema(Query, extensions=caches)
    query = "{ flights { icao24 callsign originCountry } }"
    fast.execute_sync(query)  # what the first execution caches is not garbage
    default.execute_sync(query)
    gc.collect()
    gc.disable()
    try:
        assert fast.execute_sync(query).errors is None
        fast_garbage = gc.collect()
        assert default.execute_sync(query).errors is None
        default_garbage = gc.collect()
    finally:
        gc.enable()
    assert default_garbage > 0, "graphql-core's own context is no longer cyclic: drop this"
    assert fast_garbage == 0


@strawberry.type
class Batch:
    cycle: str
    at: datetime
    removed: list[str]
    flights: list[Flight]
    note: str | None = None

    @strawberry.field
    def size(self) -> int:
        return len(self.flights)


@strawberry.type
class BatchFeed:
    @strawberry.subscription
    async def batches(self, shared: bool = True, broken: bool = False) -> AsyncGenerator[Batch]:
        for i in range(3):
            flights = [make_flight(i * 10 + k) for k in range(4)]
            if shared:
                for flight in flights:
                    setattr(flight, RESPONSE_MEMO, {})
            cycle: Any = None if broken and i == 1 else f"cycle-{i}"
            yield Batch(
                cycle=cycle, at=EPOCH, removed=[f.icao24 for f in flights[:i]], flights=flights
            )


BATCHES_FAST = strawberry.Schema(
    Query, subscription=BatchFeed, execution_context_class=FastExecutionContext
)
BATCHES_DEFAULT = strawberry.Schema(Query, subscription=BatchFeed)
RENDERED = {
    "plain": "subscription { batches { cycle at removed flights { icao24 status lastContact } } }",
    "aliases_typename_order": (
        "subscription { b: batches { flights { __typename c: callsign icao24 } "
        "__typename gone: removed note t: at } }"
    ),
    "fragments_and_directives": (
        "subscription($on: Boolean = false) { ...F } fragment F on BatchFeed "
        "{ batches { cycle @skip(if: $on) note @include(if: $on) flights { ... on Flight "
        "{ squawk altitude } } } }"
    ),
}
# Documents whose events (all, or only the one with a null) are executed, not built.
NEVER = [False, False, False]
EXECUTED = {
    "items_not_shared": (
        "subscription { batches(shared: false) { cycle flights { icao24 } } }",
        NEVER,
    ),
    "a_resolver": ("subscription { batches { cycle size flights { icao24 } } }", NEVER),
    "an_item_resolver": ("subscription { batches { flights { icao24 label } } }", NEVER),
    "an_item_sub_selection": (
        "subscription { batches { flights { icao24 airport { code } } } }",
        NEVER,
    ),
    "a_null_in_a_non_null_field": (
        "subscription { batches(broken: true) { cycle removed } }",
        [True, False, True],
    ),
}


async def _batches(schema: strawberry.Schema, query: str) -> list[Any]:
    """The events of ``query``: as the app's schema streams them (``subscription_stream``)
    on the fast schema, as Strawberry does on the default one."""
    stream: Any
    if schema is BATCHES_FAST:
        stream = subscription_stream(schema, query, None, None, None, None)
    else:
        stream = await schema.subscribe(query)
    return [result async for result in stream]


@pytest.mark.parametrize("query", RENDERED.values(), ids=RENDERED.keys())
def test_plain_events_are_built_not_executed(query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = count_built_events(monkeypatch)
    fast, default = _batches(BATCHES_FAST, query), _batches(BATCHES_DEFAULT, query)
    fast_results, default_results = asyncio.run(fast), asyncio.run(default)
    assert len(fast_results) == 3
    for f, d in zip(fast_results, default_results, strict=True):
        _assert_same(f, d)
        assert encode_json(f.data) == orjson.dumps(d.data)
    assert rendered == [True] * 3


@pytest.mark.parametrize(("query", "built"), EXECUTED.values(), ids=EXECUTED.keys())
def test_other_events_are_executed(
    query: str, built: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    rendered = count_built_events(monkeypatch)
    fast, default = _batches(BATCHES_FAST, query), _batches(BATCHES_DEFAULT, query)
    fast_results, default_results = asyncio.run(fast), asyncio.run(default)
    assert len(fast_results) == 3
    for f, d in zip(fast_results, default_results, strict=True):
        _assert_same(f, d)
    assert rendered == built
    assert bool(_errors(fast_results[1])) == ("broken" in query)


def test_a_shared_response_holds_its_json_in_no_more_memory_than_it_needs() -> None:
    """orjson returns its output in the buffer it wrote it in, 4 KiB at least: kept for
    every live flight and selection, that was 4.3 KiB a flight of 200 bytes of JSON."""
    data = {"icao24": "abc123", "callsign": "DLH123", "latitude": 50.1, "longitude": 8.6}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [_shared(dict(data)) for _ in range(1000)]
        per_response = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert encode_json(kept[0]) == orjson.dumps(data)
    assert per_response < 1024  # the dict, its copy of the JSON and the fragment
