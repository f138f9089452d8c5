"""The GraphQL schema: types in one module each, assembled here.

``schema.graphql`` beside this file is the exported SDL; ``flightdata schema export``
writes it and a test fails when it drifts.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable
from contextlib import aclosing
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from domain import InvalidArgument
from observability.context import REQUEST_ID
from schema._executor import FastExecutionContext
from schema.streaming import subscription_stream
from security.limits import QueryGuard, QueryLimits

log = logging.getLogger(__name__)
SDL_PATH = Path(__file__).with_name("schema.graphql")
# Parsing and validating a document is most of the cost of a small query; these caches
# are bounded so that a stream of distinct documents cannot grow memory without limit.
_DOCUMENT_CACHE_SIZE = 1024


UNEXPECTED_ERROR = "Unexpected error."


def should_mask(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep messages written for the client."""
    original = error.original_error
    # GraphQLError: graphql-core's own, such as a variable of the wrong type.
    return original is not None and not isinstance(original, (InvalidArgument, GraphQLError))


def mask_errors(errors: list[GraphQLError] | None) -> list[GraphQLError] | None:
    """``errors`` with every unexpected one replaced by a bare "Unexpected error."; the
    ``X-Request-ID`` response header names the log line of the original.

    Done once per response by the HTTP view rather than by Strawberry's ``MaskErrors``
    extension, whose per-operation hooks measured a fifth of a small query's cost.
    ``FlightSchema.process_errors`` has already logged the original errors.
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


def assemble(query: type, subscription: type, limits: QueryLimits | None = None) -> FlightSchema:
    """The schema of the root ``query`` and ``subscription`` types (``resolvers.root``),
    with ``limits`` on every operation (default: ``QueryLimits()``)."""
    # Factories, not instances: Strawberry builds a fresh extension per operation; the
    # parser and validation caches themselves are shared at module level.
    extensions: list[Any] = [
        lambda: ParserCache(maxsize=_DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=_DOCUMENT_CACHE_SIZE),
    ]
    schema = FlightSchema(
        query=query,
        subscription=subscription,
        extensions=extensions,
        execution_context_class=FastExecutionContext,
    )
    schema.guard = QueryGuard(schema._schema, limits or QueryLimits())
    return schema


# Called before a streamed operation (WebSocket) runs, with its context: an error to
# answer with instead (the rate limit of WebSocket operations), or None.
StreamAdmission = Callable[[Any], Awaitable[GraphQLError | None]]


class FlightSchema(strawberry.Schema):
    """Strawberry's schema with four changes: every operation is first checked by
    ``guard`` (limits and scopes: ``security.limits``), and streamed ones by
    ``admit_stream``; streamed results (WebSocket) have their unexpected errors masked as
    the HTTP view masks single results; the legacy ``graphql-ws`` protocol may run
    queries too, as ``graphql-transport-ws`` does; and only unexpected errors are logged,
    with their traceback and request id, not a client's bad argument.
    """

    guard: QueryGuard | None = None
    admit_stream: StreamAdmission | None = None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        if self.guard is not None:
            error = self.guard.check(query, variable_values, operation_name, context_value)
            if error is not None:
                return PreExecutionError(data=None, errors=[error])
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        error = None
        if self.guard is not None:
            error = self.guard.check(query, variable_values, operation_name, context_value)
        if error is None and self.admit_stream is not None:
            error = await self.admit_stream(context_value)
        if error is not None:
            return _refused(error)
        events = subscription_stream(
            self, query, variable_values, context_value, root_value, operation_name
        )
        if events is not None:  # a subscription that can start: its events straight
            return _masked(events)
        source = await super().stream(
            query,
            variable_values=variable_values,
            context_value=context_value,
            root_value=root_value,
            operation_name=operation_name,
            operation_extensions=operation_extensions,
            allowed_operation_types=allowed_operation_types,
        )
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
                original = error.original_error
                log.error(
                    "unexpected error (request %s) at %s: %s",
                    REQUEST_ID.get() or "-",
                    ".".join(map(str, error.path or ())) or "-",
                    error.message,
                    exc_info=(type(original), original, original.__traceback__)
                    if original is not None
                    else None,
                )
            else:
                log.debug("client error: %s", error.message)


async def _refused(error: GraphQLError) -> AsyncGenerator[ExecutionResult, None]:
    yield PreExecutionError(data=None, errors=[error])


async def _masked(source: StreamResult) -> StreamResult:
    async with aclosing(source):
        async for result in source:
            if isinstance(result, ExecutionResult):
                result.errors = mask_errors(result.errors)
            yield result


def export_sdl(schema: strawberry.Schema) -> str:
    return schema.as_str() + "\n"
