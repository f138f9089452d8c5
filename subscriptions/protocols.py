"""Strawberry's two GraphQL WebSocket protocol handlers, with every client message checked
before it is acted on.

Strawberry reads each message as its protocol says it is shaped, so one of another shape
(``null``, ``[]``, ``42``, a ``subscribe`` whose payload is a string) raised a TypeError
that dropped the connection without a close frame. Here each message is first validated
against the protocol's client messages (strictly: no coercion), and a bad one is answered
as its protocol says, with what is wrong:

- ``graphql-transport-ws``: the socket is closed with 4400 and the problem as the reason
  ("Invalid message received");
- ``graphql-ws`` (the legacy subscriptions-transport-ws): the reference server answers a
  message it cannot read with ``connection_error`` and one it cannot serve with ``error``
  for its id, and keeps the socket open; so does this one, also for text that is not JSON,
  which Strawberry skips without a word.

A client that goes away while it is being sent a result is not an error either: the
operation ends quietly (Strawberry logged each one with its traceback at ERROR, and a map
closed by its user while a cycle is being fanned out is routine).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from schema.context import Context

log = logging.getLogger(__name__)

INVALID_MESSAGE = 4400
_MAX_REASON_BYTES = 123  # a close frame's reason (RFC 6455, 5.5)
_Object = dict[str, object] | None


class _Message(BaseModel):
    model_config = ConfigDict(strict=True)


class _ConnectionInit(_Message):
    type: Literal["connection_init"]
    payload: _Object = None


class _Ping(_Message):
    type: Literal["ping"]
    payload: _Object = None


class _Pong(_Message):
    type: Literal["pong"]
    payload: _Object = None


class _Request(_Message):
    query: str
    operationName: str | None = None
    variables: _Object = None
    extensions: _Object = None


class _Subscribe(_Message):
    type: Literal["subscribe"]
    id: str
    payload: _Request


class _Complete(_Message):
    type: Literal["complete"]
    id: str


class _Start(_Message):
    type: Literal["start"]
    id: str
    payload: _Request


class _Stop(_Message):
    type: Literal["stop"]
    id: str


class _ConnectionTerminate(_Message):
    type: Literal["connection_terminate"]


_TRANSPORT_WS: TypeAdapter[Any] = TypeAdapter(
    Annotated[_ConnectionInit | _Ping | _Pong | _Subscribe | _Complete, Field(discriminator="type")]
)
_LEGACY_WS: TypeAdapter[Any] = TypeAdapter(
    Annotated[_ConnectionInit | _Start | _Stop | _ConnectionTerminate, Field(discriminator="type")]
)
_SAID = {
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "string_type": "must be a string",
    "missing": "is required",
    "union_tag_not_found": "a message needs a type",
}


def problem(adapter: TypeAdapter[Any], message: object) -> str | None:
    """What is wrong with ``message`` as one of ``adapter``'s messages, or ``None``."""
    try:
        adapter.validate_python(message)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        said = _SAID.get(error["type"], error["msg"])
        if error["type"] == "union_tag_invalid":
            context = error.get("ctx", {})
            return f"unknown message type {context['tag']!r}; expected {context['expected_tags']}"
        if not error["loc"]:
            return "a message must be a JSON object" if not isinstance(message, dict) else said
        kind, *path = error["loc"]
        return f"{kind} message: {'.'.join(map(str, path))} {said}"
    return None


def _reason(text: str) -> str:
    return text.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """``graphql-transport-ws``: a malformed message closes the socket with 4400."""

    async def handle_message(self, message: Any) -> None:
        if (wrong := problem(_TRANSPORT_WS, message)) is not None:
            await self.handle_invalid_message(_reason(wrong))
            return
        await super().handle_message(message)

    async def handle_task_exception(self, error: Exception) -> None:
        if isinstance(error, WebSocketDisconnected):
            log.debug("a client went away while it was being sent a result")
            return
        await super().handle_task_exception(error)


class LegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """``graphql-ws``: a malformed message is answered with ``error`` for its operation id,
    else with ``connection_error``; the socket stays open."""

    async def handle(self) -> None:
        # Strawberry's own, except that text that is not JSON is answered, not skipped.
        try:
            try:
                while await self._read_until_not_json():
                    await self._refuse(None, "a message must be JSON")
            except NonTextMessageReceived:
                await self.websocket.close(code=1002, reason="WebSocket message type must be text")
        except WebSocketDisconnected:
            pass
        finally:
            if self.keep_alive_task:
                self.keep_alive_task.cancel()
                with suppress(BaseException):
                    await self.keep_alive_task
            await self.cleanup()

    async def _read_until_not_json(self) -> bool:
        """Handles messages until the socket closes (``False``) or one is not JSON."""
        try:
            async for message in self.websocket.iter_json():
                await self.handle_message(message)
        except NonJsonMessageReceived:
            return True
        return False

    async def handle_message(self, message: Any) -> None:
        if (wrong := problem(_LEGACY_WS, message)) is not None:
            op_id = message.get("id") if isinstance(message, dict) else None
            await self._refuse(op_id if isinstance(op_id, str) else None, wrong)
            return
        await super().handle_message(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        try:
            await super().handle_async_results(operation_id, query, operation_name, variables)
        except WebSocketDisconnected:  # the operation's task ends; nobody awaits it
            log.debug("a client went away while it was being sent a result")

    async def handle_connection_init(self, message: Any) -> None:
        # A second one would start a second keep-alive task that nothing stops.
        if self.connection_acknowledged:
            await self._refuse(None, "the connection is initialised already")
            return
        await super().handle_connection_init(message)

    async def _refuse(self, op_id: str | None, wrong: str) -> None:
        payload = {"message": wrong}
        if op_id is None:
            await self.websocket.send_json({"type": "connection_error", "payload": payload})
        else:
            await self.websocket.send_json({"type": "error", "id": op_id, "payload": payload})
