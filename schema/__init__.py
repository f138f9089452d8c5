"""The GraphQL schema: types in one module each, assembled here.

``schema.graphql`` beside this file is the exported SDL; ``flightdata schema export``
writes it and a test fails when it drifts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache

from domain import InvalidArgument
from schema._executor import FastExecutionContext
from schema.query import Query

SDL_PATH = Path(__file__).with_name("schema.graphql")
# Parsing and validating a document is most of the cost of a small query; these caches
# are bounded so that a stream of distinct documents cannot grow memory without limit.
_DOCUMENT_CACHE_SIZE = 1024


UNEXPECTED_ERROR = "Unexpected error."


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep messages written for the client."""
    original = error.original_error
    return original is not None and not isinstance(original, InvalidArgument)


def mask_errors(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    """``errors`` with every unexpected one replaced by a bare "Unexpected error."

    Done once per response by the HTTP view rather than by Strawberry's ``MaskErrors``
    extension, whose per-operation hooks measured a fifth of a small query's cost.
    Strawberry has already logged the original errors.
    """
    if not errors:
        return errors
    return [
        GraphQLError(
            UNEXPECTED_ERROR,
            nodes=e.nodes,
            source=e.source,
            positions=e.positions,
            path=e.path,
        )
        if should_mask(e)
        else e
        for e in errors
    ]


def build_schema() -> strawberry.Schema:
    # Factories, not instances: Strawberry builds a fresh extension per operation; the
    # parser and validation caches themselves are shared at module level.
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=_DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=_DOCUMENT_CACHE_SIZE),
    ]
    return strawberry.Schema(
        query=Query, extensions=extensions, execution_context_class=FastExecutionContext
    )


def export_sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"
