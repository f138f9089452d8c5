"""Subscription operations run straight on graphql-core, one execution per event.

Strawberry's ``Schema.subscribe`` wraps every event of a stream in its extension hooks
(two context managers, the extension results, a result conversion) and graphql-core's
``map_async_iterable``: per event, as much work again as executing a live-update batch
through ``FastExecutionContext``, and a live map's server runs it for every subscriber on
every cycle. This schema's extensions (the parser and validation caches) act before
execution only, so ``subscription_stream`` skips them for the events: it parses and
validates the document once (cached), builds the executor, starts the resolver's stream
through graphql-core's ``create_source_event_stream`` and executes each event with
``execute_subscription_event``, exactly as graphql-core's own ``subscribe`` does.

A subscription that can start (it parses, validates and its variables coerce) takes this
path; a document that cannot, whatever its operation, is answered with the errors that
say why (an unknown ``operationName`` included, which Strawberry's own path would raise
as an unexpected error); for a query or mutation ``subscription_stream`` returns ``None``
and Strawberry's own path answers. Errors raised by the
resolver arrive as Strawberry would deliver them: before the stream exists, as a
``PreExecutionError``; while it runs, as a result with ``data: null`` that ends it. Each
is passed to ``process_errors`` (the schema's logging) first; masking is the caller's.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncGenerator, AsyncIterable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, cast

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationType,
    parse,
    validate,
)
from graphql import (
    ExecutionResult as CoreExecutionResult,
)
from graphql.execution import create_source_event_stream, execute_subscription_event
from graphql.pyutils import is_awaitable
from strawberry.types.execution import ExecutionResult, PreExecutionError

from schema._executor import FastExecutionContext

if TYPE_CHECKING:
    import strawberry
    from graphql import Executor

_DOCUMENT_CACHE = 256

StreamResult = AsyncGenerator[ExecutionResult, None]


@functools.lru_cache(maxsize=_DOCUMENT_CACHE)
def checked(
    schema: strawberry.Schema, query: str
) -> tuple[DocumentNode | None, list[GraphQLError]]:
    """``query`` parsed and validated against ``schema``: the document, or its errors."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        return None, [exc]
    return document, validate(schema._schema, document)


def build_executor(
    schema: strawberry.Schema,
    query: str,
    variable_values: dict[str, Any] | None,
    operation_name: str | None,
    context_value: Any,
    root_value: Any = None,
) -> Executor[Any] | list[GraphQLError]:
    """``query`` parsed, validated and bound to its variables: its executor, or why not."""
    document, errors = checked(schema, query)
    if document is None or errors:
        return errors
    return schema.execution_context_class.build(
        schema._schema,
        document,
        root_value=root_value,
        context_value=context_value,
        raw_variable_values=variable_values,
        operation_name=operation_name,
    )


def subscription_stream(
    schema: strawberry.Schema,
    query: str | None,
    variable_values: dict[str, Any] | None,
    context_value: Any,
    root_value: Any,
    operation_name: str | None,
) -> StreamResult | None:
    """The results of a subscription operation, or the errors of a document that does not
    build, or ``None`` if ``query`` is another operation (Strawberry's own path then
    answers)."""
    if not isinstance(query, str):
        return None
    built = build_executor(
        schema, query, variable_values, operation_name, context_value, root_value
    )
    if isinstance(built, list):
        return _refused(schema, built)
    if built.operation.operation is not OperationType.SUBSCRIPTION:
        return None
    return _events(schema, built)


async def _refused(schema: strawberry.Schema, errors: list[GraphQLError]) -> StreamResult:
    schema.process_errors(errors)
    yield PreExecutionError(data=None, errors=errors)


async def event_source(executor: Executor[Any]) -> AsyncIterable[Any] | CoreExecutionResult:
    """The resolver's stream of events, or the errors it failed with before it had one."""
    made = create_source_event_stream(executor)
    return cast(
        "AsyncIterable[Any] | CoreExecutionResult", await made if is_awaitable(made) else made
    )


async def execute_event(executor: Executor[Any], root: Any) -> CoreExecutionResult:
    """The document executed for one event, with ``root`` as its root value: built
    straight from ``root`` when the executor can (``FastExecutionContext.render_event``)."""
    if isinstance(executor, FastExecutionContext):
        data = executor.render_event(root)
        if data is not None:
            return CoreExecutionResult(data, None)
    result = execute_subscription_event(executor.build_per_event_executor(root))
    if is_awaitable(result):
        result = await result
    assert isinstance(result, CoreExecutionResult)
    return result


async def _events(schema: strawberry.Schema, executor: Executor[Any]) -> StreamResult:
    source = await event_source(executor)
    if isinstance(source, CoreExecutionResult):  # the resolver failed before its stream
        errors = source.errors or []
        schema.process_errors(errors)
        yield PreExecutionError(data=None, errors=errors)
        return
    async with aclosing(cast("AsyncGenerator[Any, None]", source)):
        try:
            async for root in source:
                result = await execute_event(executor, root)
                if result.errors:
                    schema.process_errors(result.errors)
                yield ExecutionResult(data=result.data, errors=result.errors)
        except Exception as exc:  # raised by the resolver while its stream runs
            error = exc if isinstance(exc, GraphQLError) else _error(exc)
            schema.process_errors([error])
            yield ExecutionResult(data=None, errors=[error])


def _error(exc: Exception) -> GraphQLError:
    return GraphQLError(str(exc), original_error=exc)
