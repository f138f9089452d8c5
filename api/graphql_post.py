"""A lean path for the common cases: ``POST /graphql`` with a JSON body, and GET queries.

Strawberry's HTTP view handles every transport (GET, multipart, batching, WebSockets,
GraphiQL), and that generality costs about a third of a small query's time. This endpoint
serves ``application/json`` POSTs and GETs that carry a query or a persisted-query hash,
through the same schema, context and error masking, and hands every other request (the
GraphiQL page among them) to the view unchanged. Answers match the view's: 200 with
``data``/``errors``, 400 with a plain message for a request that is not a GraphQL request,
405 for a mutation over GET; and 403 when the operation needs a scope the caller's key
lacks.

GET, for CDNs: a successful GET query is ``Cache-Control: public, max-age=<cache_max_age_s>``
with ``Vary: X-API-Key`` (a cache must not answer one key's request with another's, or a
keyless one's); anything else carries no caching header. Persisted queries
(``security.persisted``): ``extensions={"persistedQuery": {"version": 1, "sha256Hash": ...}}``
names a document by hash, so a GET URL stays short; an unknown hash is answered with the
GraphQL error ``PersistedQueryNotFound``, and the query sent with its hash registers it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

from observability.metrics import observe_graphql
from schema import mask_errors
from security.persisted import (
    NOT_FOUND,
    NOT_FOUND_CODE,
    PersistedQueries,
    PersistedQueryError,
    check_hash,
    requested_hash,
)

_POST_OPERATIONS = {OperationType.QUERY, OperationType.MUTATION}
_GET_OPERATIONS = {OperationType.QUERY}
ContextFactory = Callable[[Request, Response], Awaitable[Any]]
_NOT_FOUND_BODY = orjson.dumps(
    {"errors": [{"message": NOT_FOUND, "extensions": {"code": NOT_FOUND_CODE}}]}
)


def _bad_request(message: str, status: int = 400) -> Response:
    return PlainTextResponse(message, status_code=status)


def _is_get_query(scope: Scope) -> bool:
    query_string: bytes = scope["query_string"]
    return b"query=" in query_string or b"extensions=" in query_string


class GraphQLPost:
    """ASGI app: JSON POSTs and GET queries here, everything else to ``fallback`` (the
    Strawberry view)."""

    def __init__(
        self,
        schema: Any,
        get_context: ContextFactory,
        fallback: Any,
        *,
        persisted: PersistedQueries | None = None,
        cache_max_age_s: int = 60,
    ) -> None:
        self.schema = schema
        self.get_context = get_context
        self.fallback = fallback
        self.persisted = persisted or PersistedQueries()
        self._cacheable = {
            "cache-control": f"public, max-age={cache_max_age_s}",
            "vary": "X-API-Key",
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method == "POST" and _is_json(scope):
                response = await self.handle(Request(scope, receive))
                await response(scope, receive, send)
                return
            if method == "GET" and _is_get_query(scope):
                response = await self.handle_get(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.fallback(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            data = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return _bad_request("Unable to parse request body as JSON")
        if isinstance(data, list):
            return _bad_request("Batching is not enabled")
        if not isinstance(data, dict):
            return _bad_request(
                f"The request body must be a JSON object, not {_JSON_NAMES[type(data)]}"
            )
        response, _ = await self.run(request, data, _POST_OPERATIONS)
        observe_graphql(data.get("operationName"), time.perf_counter() - started)
        return response

    async def handle_get(self, request: Request) -> Response:
        started = time.perf_counter()
        params = request.query_params
        data: dict[str, Any] = {
            "query": params.get("query"),
            "operationName": params.get("operationName"),
        }
        for name in ("variables", "extensions"):
            raw = params.get(name)
            if raw:
                try:
                    data[name] = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    return _bad_request("Unable to parse request body as JSON")
        response, succeeded = await self.run(request, data, _GET_OPERATIONS)
        if succeeded:
            response.headers.update(self._cacheable)
        observe_graphql(data.get("operationName"), time.perf_counter() - started)
        return response

    async def run(
        self, request: Request, data: dict[str, Any], allowed: set[OperationType]
    ) -> tuple[Response, bool]:
        """Execute one GraphQL request (``query``, ``variables``, ``operationName``,
        ``extensions``); the response, and whether it is a 200 without errors."""
        if (malformed := _malformed(data)) is not None:
            return _bad_request(malformed), False
        variables = data.get("variables")
        query = data.get("query")
        extensions = data.get("extensions")
        digest = None
        if extensions is not None:
            try:
                digest = requested_hash(extensions)
                if digest is not None and query is None:
                    query = await self.persisted.get(digest)
                    if query is None:
                        return Response(_NOT_FOUND_BODY, media_type="application/json"), False
                    digest = None  # known already
                elif digest is not None and isinstance(query, str):
                    check_hash(query, digest)
            except PersistedQueryError as exc:
                return _bad_request(str(exc)), False
        sub_response = Response()
        context = await self.get_context(request, sub_response)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=data.get("operationName"),
                allowed_operation_types=allowed,
            )
        except MissingQueryError:
            return _bad_request("No GraphQL query found in the request"), False
        except CannotGetOperationTypeError as exc:
            return _bad_request(exc.as_http_error_reason()), False
        except InvalidOperationTypeError as exc:
            method = request.method
            reason = exc.as_http_error_reason(method)
            return _bad_request(reason, 405 if method == "GET" else 400), False
        status = sub_response.status_code
        refused = isinstance(result, PreExecutionError)
        if result.errors:
            result.errors = mask_errors(result.errors)
            if refused and _forbidden(result):
                status = 403
        if digest is not None and isinstance(query, str) and not refused:
            await self.persisted.put(digest, query)
        response = Response(
            orjson.dumps(process_result(result)), status_code=status, media_type="application/json"
        )
        response.headers.update(
            {k: v for k, v in sub_response.headers.items() if k.lower() != "content-length"}
        )
        return response, status == 200 and not result.errors


_MEMBER_TYPES = (
    ("query", str, "a string"),
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def _malformed(data: dict[str, Any]) -> str | None:
    """What is wrong with the members of a GraphQL request, if anything: each is null or
    absent, or of its type (GraphQL over HTTP, "Request Parameters")."""
    for name, kind, described in _MEMBER_TYPES:
        value = data.get(name)
        if value is not None and not isinstance(value, kind):
            return f"The {name} must be {described}, not {_JSON_NAMES[type(value)]}"
    return None


_JSON_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


def _forbidden(result: PreExecutionError) -> bool:
    errors = result.errors or ()
    return any((e.extensions or {}).get("code") == "FORBIDDEN" for e in errors)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";", 1)[0].strip().lower() == b"application/json")
    return False
