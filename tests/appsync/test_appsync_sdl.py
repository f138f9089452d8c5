"""The committed AppSync schema is the one generated from the Strawberry schema, valid, and
offers clients the same operations."""

from __future__ import annotations

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, validate_schema

from appsync.sdl import SDL_PATH, UnknownScalar, appsync_sdl, build
from resolvers.root import build_schema
from schema import export_sdl


@pytest.fixture(scope="module")
def strawberry_sdl() -> str:
    return export_sdl(build_schema())


@pytest.fixture(scope="module")
def appsync(strawberry_sdl: str) -> GraphQLSchema:
    return build(appsync_sdl(strawberry_sdl))


def test_committed_appsync_schema_matches_the_code(strawberry_sdl: str) -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    assert committed == appsync_sdl(strawberry_sdl), (
        f"appsync/{SDL_PATH.name} is out of date with the schema code: run "
        "`flightdata schema export` (or `make schema`) and commit the result"
    )


def test_the_appsync_schema_is_valid(appsync: GraphQLSchema) -> None:
    assert validate_schema(appsync) == []


def _signatures(schema: GraphQLSchema, root: str) -> dict[str, str]:
    renamed = {"AWSDateTime": "DateTime", "AWSJSON": "JSON"}
    kind = schema.get_type(root)
    assert isinstance(kind, GraphQLObjectType)
    out = {}
    for name, field in kind.fields.items():
        args = ", ".join(f"{a}: {arg.type}" for a, arg in field.args.items())
        out[name] = f"({args}): {field.type}".removesuffix("!")
        for old, new in renamed.items():
            out[name] = out[name].replace(old, new)
    return out


@pytest.mark.parametrize("root", ["Query", "Subscription"])
def test_clients_send_the_same_documents(
    strawberry_sdl: str, appsync: GraphQLSchema, root: str
) -> None:
    strawberry = build(strawberry_sdl)
    assert _signatures(appsync, root) == _signatures(strawberry, root)


def test_each_subscription_is_fed_by_an_iam_publication() -> None:
    sdl = SDL_PATH.read_text(encoding="utf-8")
    assert '@aws_subscribe(mutations: ["publishFlightUpdates"])' in sdl
    assert '@aws_subscribe(mutations: ["publishTrackUpdate"])' in sdl
    assert "publishFlightUpdates(tile: String!, batch: AWSJSON!): FlightUpdateBatch @aws_iam" in sdl
    assert "type FlightUpdateBatch @aws_lambda @aws_iam {" in sdl
    assert "type Query {" in sdl  # queries: the default mode (the Lambda authorizer) alone


def test_a_custom_scalar_without_counterpart_is_refused() -> None:
    with pytest.raises(UnknownScalar) as raised:
        appsync_sdl("scalar Decimal\ntype Query { price: Decimal }\n")
    assert raised.value.name == "Decimal"
