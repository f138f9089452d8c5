"""The auth matrix over WebSocket, against ``flightdata serve`` in its own process: the key
in the ``connection_init`` payload (``gql``'s ``init_payload``) or in an ``X-API-Key``
header on the upgrade, on both GraphQL WebSocket protocols."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from securitykit import TIERS, Keys, make_keys
from websockets.exceptions import ConnectionClosed, InvalidStatus

from config import Settings
from runtime.stores import open_stores
from security.keys import KeyService
from testkit import served

TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # graphql-transport-ws
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL  # graphql-ws
TYPENAME = gql("{ __typename }")


def _start(tmp: Path, seeded_db: Path, **env: str) -> Iterator[tuple[str, Keys]]:
    data = tmp / "data"
    data.mkdir()
    shutil.copyfile(seeded_db, data / seeded_db.name)
    stores = open_stores(Settings.from_env({}, data_dir=data))
    try:
        keys = make_keys(stores)
    finally:
        stores.close()
    with served({"FLIGHTDATA_DATA_DIR": str(data), "FLIGHTDATA_INGEST": "false", **env}) as base:
        yield base.replace("http://", "ws://") + "/graphql", keys


@pytest.fixture(scope="module")
def keyed_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ws-keyed")


@pytest.fixture(scope="module")
def keyed(keyed_dir: Path, seeded_db: Path) -> Iterator[tuple[str, Keys]]:
    yield from _start(keyed_dir, seeded_db, FLIGHTDATA_ANONYMOUS="false")


@pytest.fixture(scope="module")
def open_api(
    tmp_path_factory: pytest.TempPathFactory, seeded_db: Path
) -> Iterator[tuple[str, Keys]]:
    yield from _start(tmp_path_factory.mktemp("ws-open"), seeded_db)


async def _query(url: str, document: Any = TYPENAME, **transport: Any) -> Any:
    async with Client(transport=WebsocketsTransport(url=url, **transport)) as session:
        return await session.execute(document)


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 30))


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("which", ["read", "admin", "rotated_old", "rotated_new"])
def test_a_good_key_in_the_init_payload_is_served(
    keyed: tuple[str, Keys], which: str, protocol: str
) -> None:
    url, keys = keyed
    payload = {"apiKey": getattr(keys, which)}

    result = run(_query(url, init_payload=payload, subprotocols=[protocol]))

    assert result == {"__typename": "Query"}


async def _init(url: str, protocol: str, payload: dict[str, Any]) -> tuple[Any, Any]:
    """Send ``connection_init``; (the first message back or None, the close code or None)."""
    async with websockets.connect(url, subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            message = json.loads(await ws.recv())
        except ConnectionClosed as closed:
            return None, closed.rcvd.code if closed.rcvd else None
        try:
            await ws.recv()
        except ConnectionClosed as closed:
            return message, closed.rcvd.code if closed.rcvd else None
        return message, None


@pytest.mark.parametrize(
    ("which", "code", "says"),
    [
        (None, "api_key_required", "an API key is required"),
        ("malformed", "malformed_api_key", "not a flightdata key"),
        ("unknown", "unknown_api_key", "unknown API key"),
        ("revoked", "revoked_api_key", "was revoked at"),
        ("expired", "expired_api_key", "expired at"),
    ],
)
def test_a_missing_or_bad_key_is_refused_at_connection_init(
    keyed: tuple[str, Keys], which: str | None, code: str, says: str
) -> None:
    url, keys = keyed
    payload = {} if which is None else {"apiKey": getattr(keys, which)}

    # graphql-transport-ws: closed with 4403 Forbidden, as its specification says.
    assert run(_init(url, TRANSPORT_WS, payload)) == (None, 4403)
    # graphql-ws: a connection_error that says why, then closed.
    message, _ = run(_init(url, LEGACY_WS, payload))
    assert message["type"] == "connection_error"
    assert message["payload"]["code"] == code
    assert says in message["payload"]["message"]
    # and gql, as a client application sees it
    with pytest.raises(Exception):  # noqa: B017, PT011  (gql's error differs per protocol)
        run(_query(url, init_payload=payload, subprotocols=[TRANSPORT_WS]))


def test_a_key_in_the_upgrade_header_is_checked_there(keyed: tuple[str, Keys]) -> None:
    url, keys = keyed

    result = run(_query(url, headers={"X-API-Key": keys.read}, subprotocols=[TRANSPORT_WS]))

    assert result == {"__typename": "Query"}

    async def upgrade(key: str) -> Any:
        async with websockets.connect(
            url,
            subprotocols=[TRANSPORT_WS],  # type: ignore[list-item]
            additional_headers={"X-API-Key": key},
        ):
            pass

    with pytest.raises(InvalidStatus) as refused:
        run(upgrade(keys.revoked))
    assert refused.value.response.status_code == 401
    assert json.loads(refused.value.response.body)["error"] == "revoked_api_key"


async def _revoked_while_open(url: str, protocol: str, how: str, keys: KeyService) -> Any:
    """Open a connection with a new key (in the ``connection_init`` payload or the upgrade
    header), revoke the key, and return how the server closed the connection."""
    issued = keys.create("short-lived")
    headers = {"X-API-Key": issued.key} if how == "header" else {}
    payload = {"apiKey": issued.key} if how == "payload" else {}
    async with websockets.connect(
        url,
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers,
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        keys.revoke(issued.record.key_id)
        try:
            while True:  # the legacy protocol's keep-alives until then
                await asyncio.wait_for(ws.recv(), 10)
        except ConnectionClosed as closed:
            return closed.rcvd


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
@pytest.mark.parametrize("how", ["payload", "header"])
def test_an_open_connection_is_closed_when_its_key_is_revoked(
    keyed: tuple[str, Keys], keyed_dir: Path, protocol: str, how: str
) -> None:
    url, _ = keyed
    stores = open_stores(Settings.from_env({}, data_dir=keyed_dir / "data"))
    try:
        close = run(_revoked_while_open(url, protocol, how, KeyService(stores.api_keys, TIERS)))
    finally:
        stores.close()

    assert close is not None
    assert close.code == 4403
    assert "revoked" in close.reason


def test_a_field_beyond_the_key_s_scope_is_refused_with_an_error(keyed: tuple[str, Keys]) -> None:
    url, keys = keyed
    document = gql("{ deadLetters(first: 1) { totalCount } }")

    with pytest.raises(TransportQueryError) as refused:
        run(_query(url, document, init_payload={"apiKey": keys.read}))
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
    allowed = run(_query(url, document, init_payload={"apiKey": keys.admin}))
    assert allowed == {"deadLetters": {"totalCount": 0}}


def test_with_anonymous_access_no_key_is_needed_but_a_bad_one_is_refused(
    open_api: tuple[str, Keys],
) -> None:
    url, keys = open_api

    assert run(_query(url)) == {"__typename": "Query"}
    assert run(_init(url, TRANSPORT_WS, {"apiKey": keys.expired})) == (None, 4403)
    with pytest.raises(TransportQueryError):
        run(_query(url, gql("{ deadLetters(first: 1) { totalCount } }")))


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[tuple[str, Keys]]:
    tiers = "anonymous=0.01:3,standard=50:500"
    yield from _start(tmp_path_factory.mktemp("ws-tight"), seeded_db, FLIGHTDATA_RATE_TIERS=tiers)


def test_connections_and_operations_take_tokens(tight: tuple[str, Keys]) -> None:
    url, _ = tight

    async def session() -> list[Any]:
        outcomes: list[Any] = []
        transport = WebsocketsTransport(url=url, subprotocols=[TRANSPORT_WS])
        async with Client(transport=transport) as client:  # token 1
            outcomes.append(await client.execute(TYPENAME))  # token 2
            outcomes.append(await client.execute(TYPENAME))  # token 3
            try:
                await client.execute(TYPENAME)
            except TransportQueryError as exc:
                outcomes.append(exc.errors)
        return outcomes

    first, second, refused = run(session())

    assert first == second == {"__typename": "Query"}
    assert refused[0]["extensions"]["code"] == "RATE_LIMITED"
    assert "rate limit exceeded" in refused[0]["message"]
    message, _ = run(_init(url, LEGACY_WS, {}))
    assert message["type"] == "connection_error"
    assert message["payload"]["code"] == "rate_limited"
    assert message["payload"]["retryAfter"] >= 1
