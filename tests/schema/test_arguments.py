"""Every numeric argument of the schema is range-checked, and says so by name.

The arguments are found by walking the schema from its roots (input objects' fields
included), so a new one is checked here the day it is added: the smallest and the largest
value of its type (an Int's 32 bits, a Float's ±1e308) must each be refused with an error
that names it and is meant for the client, not masked as unexpected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from graphql import (
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_non_null_type,
)

from resolvers.root import build_schema
from schema import FlightSchema, should_mask
from schema.context import Context, make_loaders
from testkit import ReplayWorld

EXTREMES = {"Int": (-(2**31), 2**31 - 1), "Float": (-1e308, 1e308)}
# Values for the required arguments on the way that are not numbers.
SAMPLES: dict[str, Any] = {"code": "LHR", "icao24": "4ca7b5"}


@dataclass(frozen=True)
class Case:
    """One numeric argument: ``argument`` of the last field of ``path``, or its input
    object's field ``within``."""

    operation: str
    path: tuple[tuple[str, GraphQLField], ...]
    argument: str
    within: str | None
    scalar: str

    @property
    def name(self) -> str:
        return self.within or self.argument

    def __str__(self) -> str:
        fields = ".".join(name for name, _ in self.path)
        inner = f".{self.within}" if self.within else ""
        return f"{self.operation}.{fields}({self.argument}{inner})"

    def request(self, value: float) -> tuple[str, dict[str, Any]]:
        """A document that sets this argument to ``value`` (a variable), and its variables."""
        *outer, (leaf_name, leaf) = self.path
        selection = "{ __typename }" if _is_object(leaf) else ""
        arg_type = leaf.args[self.argument].type
        given: Any = value
        if self.within is not None:
            given = {**_input_sample(get_named_type(arg_type)), self.within: value}
        body = f"{leaf_name}({self.argument}: $v{_required(leaf, skip=self.argument)}) {selection}"
        for name, field in reversed(outer):
            body = f"{name}{_required(field)} {{ {body} }}"
        operation = "subscription" if self.operation == "Subscription" else "query"
        return f"{operation}($v: {arg_type}) {{ {body} }}", {"v": given}


def _is_object(field: GraphQLField) -> bool:
    return isinstance(get_named_type(field.type), GraphQLObjectType)


def _required(field: GraphQLField, skip: str | None = None) -> str:
    """The field's required arguments without a default, from ``SAMPLES``."""
    given = [
        f"{name}: {orjson.dumps(SAMPLES[name]).decode()}"
        for name, arg in field.args.items()
        if name != skip and is_non_null_type(arg.type) and arg.default_value is None
    ]
    if skip is not None:
        return "".join(f", {g}" for g in given)
    return f"({', '.join(given)})" if given else ""


def _input_sample(input_type: Any) -> dict[str, Any]:
    assert isinstance(input_type, GraphQLInputObjectType)
    return {
        name: 0 if get_named_type(f.type).name in EXTREMES else SAMPLES[name]
        for name, f in input_type.fields.items()
    }


def _numeric(arg_type: GraphQLInputType) -> Iterator[tuple[str | None, str]]:
    named = get_named_type(arg_type)
    if named.name in EXTREMES:
        yield None, named.name
    elif isinstance(named, GraphQLInputObjectType):
        for name, field in named.fields.items():
            if get_named_type(field.type).name in EXTREMES:
                yield name, get_named_type(field.type).name


def numeric_arguments(schema: GraphQLSchema) -> list[Case]:
    """Every numeric argument reachable from the roots, each type walked once."""
    cases: list[Case] = []
    seen: set[str] = set()

    def walk(operation: str, parent: GraphQLObjectType, path: tuple[Any, ...]) -> None:
        if parent.name.startswith("__") or parent.name in seen:
            return
        seen.add(parent.name)
        for name, field in parent.fields.items():
            here = (*path, (name, field))
            for arg_name, arg in field.args.items():
                for within, scalar in _numeric(arg.type):
                    cases.append(Case(operation, here, arg_name, within, scalar))
            inner = get_named_type(field.type)
            if isinstance(inner, GraphQLObjectType):
                walk(operation, inner, here)

    for root in (schema.query_type, schema.subscription_type):
        if root is not None:
            walk(root.name, root, ())
    return cases


SCHEMA = build_schema()
CASES = numeric_arguments(SCHEMA._schema)


def test_the_walk_finds_the_arguments_it_should() -> None:
    found = {str(c) for c in CASES}

    assert {
        "Query.flights(first)",
        "Query.flights(bbox.south)",
        "Query.airports(radiusKm)",
        "Query.airports(near.longitude)",
        "Query.pipelineStatus.cycles(last)",
        "Query.analytics.trafficDensity(cellDeg)",
        "Query.analytics.busiestAirports(limit)",
        "Subscription.flightUpdates(bbox.east)",
    } <= found


async def _errors(schema: FlightSchema, context: Context, case: Case, value: float) -> list[Any]:
    document, variables = case.request(value)
    if case.operation != "Subscription":
        result = await schema.execute(document, variables, context)
        return list(result.errors or [])
    stream = await schema.subscribe(document, variables, context)
    async with aclosing(stream):
        first = await anext(stream)
    return list(first.errors or [])


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_numeric_argument_is_range_checked(replay_world: ReplayWorld, case: Case) -> None:
    runtime = replay_world.runtime
    for value in EXTREMES[case.scalar]:
        context = Context(
            stores=runtime.stores,
            settings=runtime.settings,
            loaders=make_loaders(runtime.stores, runtime.settings),
            hub=runtime.hub,
        )
        errors = asyncio.run(asyncio.wait_for(_errors(SCHEMA, context, case, value), 10))

        assert errors, f"{case} accepted {value}"
        assert case.name in errors[0].message, f"{case}={value}: {errors[0].message}"
        assert not should_mask(errors[0]), f"{case}={value}: {errors[0].message}"
