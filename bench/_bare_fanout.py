"""The baseline of ``python -m bench.subscriptions``: a server that does only what any
server must do to deliver a live batch, so that the API's figures can be read against what
this machine allows. ``python -m bench._bare_fanout PORT INTERVAL_S``.

It runs on the same stack as ``flightdata serve`` (uvicorn with the same WebSocket
settings, Starlette), speaks just enough ``graphql-transport-ws`` for the bench's clients,
and sends each subscriber its box's flights of the global snapshot, encoded when it
subscribed, with the same fields and framing as the API's ``flightUpdates`` batches. Every
``INTERVAL_S`` it publishes a cycle: each subscriber's task wakes and sends its batch under
the new cycle's header. Nothing is read, selected, rendered or encoded per cycle.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from config import Settings
from ingestion.replay import ReplaySource, load_snapshot

# (latitude, longitude, the flight as the API's batch encodes it) of every positioned
# aircraft of the snapshot.
Flight = tuple[float, float, bytes]


def _flights() -> list[Flight]:
    rows = ReplaySource(load_snapshot()).advance()["states"]
    flights = []
    for row in rows:
        lon, lat = row[5], row[6]
        if lat is None or lon is None:
            continue
        shown = {
            "icao24": row[0],
            "callsign": (row[1] or "").strip() or None,
            "latitude": lat,
            "longitude": lon,
            "baroAltitudeM": row[7],
            "velocityMps": row[9],
            "trueTrackDeg": row[10],
            "lastContact": datetime.fromtimestamp(row[4], UTC).isoformat(),
        }
        flights.append((lat, lon, orjson.dumps(shown)))
    return flights


class Cycles:
    """The cycle every subscriber waits for: its header, set when it is published."""

    def __init__(self) -> None:
        self.next: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def publish(self, number: int) -> None:
        now = datetime.now(UTC)
        header = f'"cycleId":"bare@{number}","publishedAt":"{now.isoformat()}"'
        published, self.next = self.next, asyncio.get_running_loop().create_future()
        published.set_result(header)

    async def run(self, interval_s: float) -> None:
        number = 0
        while True:
            await asyncio.sleep(interval_s)
            number += 1
            self.publish(number)


def _tail(flights: list[Flight], box: dict[str, float]) -> str:
    """What follows a batch's header for a subscriber of ``box``."""
    inside = [
        encoded
        for lat, lon, encoded in flights
        if box["south"] <= lat <= box["north"] and box["west"] <= lon <= box["east"]
    ]
    return (b',"removed":[],"flights":[' + b",".join(inside) + b"]}}}}").decode()


def create_app(interval_s: float) -> Starlette:
    flights = _flights()
    state: dict[str, Cycles] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["cycles"] = cycles = Cycles()
        task = asyncio.create_task(cycles.run(interval_s))
        yield
        task.cancel()

    async def subscriber(ws: WebSocket) -> None:
        await ws.accept(subprotocol="graphql-transport-ws")
        try:
            await ws.receive_json()  # connection_init
            await ws.send_text('{"type":"connection_ack"}')
            subscribe: dict[str, Any] = await ws.receive_json()
            op = subscribe["id"]
            tail = _tail(flights, subscribe["payload"]["variables"]["bbox"])
            head = f'{{"id":"{op}","type":"next","payload":{{"data":{{"flightUpdates":{{'
            cycles = state["cycles"]
            now = datetime.now(UTC).isoformat()
            first = f'"cycleId":"bare@0","publishedAt":"{now}"'
            await ws.send_text(f'{head}{first},"snapshot":true,"droppedBatches":0{tail}')
            while True:
                header = await cycles.next
                await ws.send_text(f'{head}{header},"snapshot":false,"droppedBatches":0{tail}')
        except Exception:  # the client went away: the bench is over
            return

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/healthz", healthz), WebSocketRoute("/graphql", subscriber)],
        lifespan=lifespan,
    )


def main(port: int, interval_s: float) -> None:
    settings = Settings.from_env({})
    uvicorn.run(
        create_app(interval_s),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        ws_per_message_deflate=settings.ws_compression,
        ws_max_size=settings.max_body_bytes,
        ws_ping_interval=settings.ws_ping_interval_s,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
