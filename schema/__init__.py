"""The GraphQL schema: types in one module each, assembled here.

``schema.graphql`` beside this file is the exported SDL; ``flightdata schema export``
writes it and a test fails when it drifts.
"""

from __future__ import annotations

import logging
from contextlib import aclosing
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.utils.logging import StrawberryLogger

from domain import InvalidArgument
from schema._executor import FastExecutionContext
from schema.query import Query
from schema.subscription import Subscription

log = logging.getLogger(__name__)
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
    return FlightSchema(
        query=Query,
        subscription=Subscription,
        extensions=extensions,
        execution_context_class=FastExecutionContext,
    )


class FlightSchema(strawberry.Schema):
    """Strawberry's schema with three changes: streamed results (WebSocket) have their
    unexpected errors masked as the HTTP view masks single results; the legacy
    ``graphql-ws`` protocol may run queries too, as ``graphql-transport-ws`` does; and
    only unexpected errors are logged with their traceback, not a client's bad argument.
    """

    async def stream(self, *args: Any, **kwargs: Any) -> StreamResult:
        source = await super().stream(*args, **kwargs)
        return _masked(source)

    async def subscribe(  # type: ignore[override]
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> StreamResult:
        return await self.stream(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if should_mask(error):
                StrawberryLogger.error(error, execution_context)
            else:
                log.debug("client error: %s", error.message)


async def _masked(source: StreamResult) -> StreamResult:
    async with aclosing(source):
        async for result in source:
            if isinstance(result, ExecutionResult):
                result.errors = mask_errors(result.errors)
            yield result


def export_sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"
