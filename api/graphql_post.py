"""A lean path for the common case: ``POST /graphql`` with a JSON body.

Strawberry's HTTP view handles every transport (GET, multipart, batching, WebSockets,
GraphiQL), and that generality costs about a third of a small query's time. This endpoint
serves only ``application/json`` POSTs, through the same schema, context and error
masking, and hands every other request to the view unchanged. Answers match the view's:
200 with ``data``/``errors``, 400 with a plain message for a body that is not a GraphQL
request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from schema import mask_errors

_POST_OPERATIONS = {OperationType.QUERY, OperationType.MUTATION}
ContextFactory = Callable[[Request, Response], Awaitable[Any]]


def _bad_request(message: str) -> Response:
    return PlainTextResponse(message, status_code=400)


class GraphQLPost:
    """ASGI app: JSON POSTs here, everything else to ``fallback`` (the Strawberry view)."""

    def __init__(self, schema: Any, get_context: ContextFactory, fallback: Any) -> None:
        self.schema = schema
        self.get_context = get_context
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_json(scope):
            await self.fallback(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad_request("Unable to parse request body as JSON")
        if not isinstance(data, dict):
            return _bad_request("Batching is not enabled")
        variables = data.get("variables")
        if variables is not None and not isinstance(variables, dict):
            return _bad_request("The variables must be an object")
        sub_response = Response()
        context = await self.get_context(request, sub_response)
        try:
            result = await self.schema.execute(
                data.get("query"),
                variable_values=variables,
                context_value=context,
                operation_name=data.get("operationName"),
                allowed_operation_types=_POST_OPERATIONS,
            )
        except MissingQueryError:
            return _bad_request("No GraphQL query found in the request")
        except CannotGetOperationTypeError as exc:
            return _bad_request(exc.as_http_error_reason())
        except InvalidOperationTypeError as exc:
            return _bad_request(exc.as_http_error_reason("POST"))
        result.errors = mask_errors(result.errors)
        response = Response(
            orjson.dumps(process_result(result)),
            status_code=sub_response.status_code,
            media_type="application/json",
        )
        response.headers.update(
            {k: v for k, v in sub_response.headers.items() if k.lower() != "content-length"}
        )
        return response


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False
