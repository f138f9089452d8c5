"""The request-id middleware: every HTTP request and WebSocket gets an id.

The id is the caller's ``X-Request-ID`` when it is a sane token (1 to 128 characters
from ``A-Za-z0-9._:@/+=-``), else the Lambda invocation's request id when served through
Mangum, else a fresh random one. It is bound in ``observability.context.REQUEST_ID`` for
everything the request runs and logs, and sent back in the ``X-Request-ID`` response
header. Pure ASGI, so it costs one function call and one header per request.
"""

from __future__ import annotations

import logging
import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from observability.context import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)

HEADER = b"x-request-id"
_VALID = re.compile(rb"[A-Za-z0-9._:@/+=\-]{1,128}")


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == HEADER:
            if _VALID.fullmatch(value):
                given: str = value.decode("ascii")
                return given
            break
    context = scope.get("aws.context")
    aws_id = getattr(context, "aws_request_id", None)
    return aws_id if isinstance(aws_id, str) and aws_id else new_request_id()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        header = (HEADER, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id if kind == "http" else send)
        except Exception:
            # Logged here, where the request id is still bound; the server logs it again.
            log.exception("unhandled error serving %s %s", scope.get("method", kind), scope["path"])
            raise
        finally:
            REQUEST_ID.reset(token)
