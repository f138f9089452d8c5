"""The API Gateway management API of one WebSocket API stage: send a message to a
connection, close one.

Its endpoint is ``https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`` (or a custom
domain's). A connection that has gone away answers ``GoneException`` (HTTP 410): it
becomes ``ConnectionGone``, for the caller to forget the connection; any other failure
becomes ``ManagementApiError``. A close cannot carry a WebSocket close code or reason:
API Gateway chooses them. Thread-safe (botocore clients are).
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

# API Gateway's limit on one WebSocket message.
MAX_MESSAGE_BYTES = 128 * 1024


class ManagementClientProtocol(Protocol):
    """The calls made here: a boto3 ``apigatewaymanagementapi`` client satisfies it."""

    def post_to_connection(self, *, Data: bytes, ConnectionId: str) -> Any: ...

    def delete_connection(self, *, ConnectionId: str) -> Any: ...


class ConnectionGone(LookupError):
    """The connection is closed; API Gateway will not deliver to it again."""

    def __init__(self, connection_id: str) -> None:
        super().__init__(f"connection {connection_id} is gone")
        self.connection_id = connection_id


class ManagementApiError(RuntimeError):
    """A management API call failed; ``code`` is the service's error code, if any."""

    def __init__(self, message: str, *, connection_id: str, code: str = "") -> None:
        super().__init__(message)
        self.connection_id = connection_id
        self.code = code


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class ManagementApi:
    def __init__(self, client: ManagementClientProtocol, endpoint: str) -> None:
        self.client = client
        self.endpoint = endpoint

    def post(self, connection_id: str, message: bytes) -> None:
        """Send one message; ``ConnectionGone`` if the connection has closed."""
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=message)
        except ClientError as exc:
            if _code(exc) == "GoneException":
                raise ConnectionGone(connection_id) from exc
            raise ManagementApiError(
                f"posting to {connection_id} failed: {exc}",
                connection_id=connection_id,
                code=_code(exc),
            ) from exc
        except BotoCoreError as exc:
            raise ManagementApiError(
                f"posting to {connection_id} failed: {exc}", connection_id=connection_id
            ) from exc

    def close(self, connection_id: str) -> None:
        """Close the connection; one already gone is no error."""
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if _code(exc) != "GoneException":
                raise ManagementApiError(
                    f"closing {connection_id} failed: {exc}",
                    connection_id=connection_id,
                    code=_code(exc),
                ) from exc
        except BotoCoreError as exc:
            raise ManagementApiError(
                f"closing {connection_id} failed: {exc}", connection_id=connection_id
            ) from exc
