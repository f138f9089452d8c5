"""The GraphQL schema: types in one module each, assembled here.

``schema.graphql`` beside this file is the exported SDL; ``flightdata schema export``
writes it and a test fails when it drifts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaskErrors, ParserCache, ValidationCache

from domain import InvalidArgument
from schema._executor import FastExecutionContext
from schema.query import Query

SDL_PATH = Path(__file__).with_name("schema.graphql")
# Parsing and validating a document is most of the cost of a small query; these caches
# are bounded so that a stream of distinct documents cannot grow memory without limit.
_DOCUMENT_CACHE_SIZE = 1024


def _should_mask(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep messages written for the client."""
    original = error.original_error
    return original is not None and not isinstance(original, InvalidArgument)


def build_schema() -> strawberry.Schema:
    # Factories, not instances: Strawberry builds a fresh extension per operation; the
    # parser and validation caches themselves are shared at module level.
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=_DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=_DOCUMENT_CACHE_SIZE),
        lambda: MaskErrors(should_mask_error=_should_mask),
    ]
    return strawberry.Schema(
        query=Query, extensions=extensions, execution_context_class=FastExecutionContext
    )


def export_sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"
