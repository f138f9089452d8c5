"""The HTTP application: routes, the GraphQL view, the middleware and the lifespan.

Settings are read once; stores are opened and the ingest loop started in the lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, process_result
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from analytics.service import live_figures, live_snapshots
from api import STATIC_DIR, dashboard, opensky, readsb, rest
from api.compression import GzipWhenAccepted
from api.foreground import CountRequests, Foreground
from api.graphql_post import GraphQLPost
from config import Settings
from domain.cycle import CycleReport
from domain.events import InProcessBus
from ingestion.loop import IngestLoop
from ingestion.reference import seed_airports
from live.subscribers import YIELD_WAIT_S, UpdateHub
from observability import bootstrap, health, metrics
from observability.middleware import RequestIdMiddleware
from resolvers.root import build_schema
from resolvers.subscriptions import shared_flight
from runtime.ingest import build_event_bus, build_ingest_loop
from runtime.live import build_broadcaster, build_hub, publisher
from runtime.process import release_free_memory_every, tune_allocators, tune_gc
from runtime.stores import open_stores
from schema import mask_errors
from schema._executor import encode_json
from schema.context import Context, make_loaders
from security.gate import Security, build_security, rate_limit_events
from security.limits import QueryLimits
from security.middleware import SecurityMiddleware
from security.websocket import admit_connection, admit_operation
from storage.base import StoreUnavailable
from storage.offload import offload
from storage.stores import Stores
from subscriptions.protocols import LegacyWSHandler, TransportWSHandler

log = logging.getLogger("flightdata")

_IDE_ASSETS = {
    "https://unpkg.com/react@18.2.0/umd/react.production.min.js": "react.production.min.js",
    "https://unpkg.com/react-dom@18.2.0/umd/react-dom.production.min.js": (
        "react-dom.production.min.js"
    ),
    "https://unpkg.com/js-cookie@3.0.5/dist/js.cookie.min.js": "js.cookie.min.js",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.css": "graphiql.min.css",
    "https://unpkg.com/graphiql@3.8.3/graphiql.min.js": "graphiql.min.js",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/style.css": "plugin-explorer.css",
    "https://unpkg.com/@graphiql/plugin-explorer@1.0.2/dist/index.umd.js": (
        "plugin-explorer.umd.js"
    ),
}


@dataclass
class Runtime:
    """What the lifespan builds and the routes use."""

    settings: Settings
    stores: Stores
    hub: UpdateHub
    events: InProcessBus = field(default_factory=InProcessBus)
    ingest: IngestLoop | None = None
    security: Security | None = None


class FlightGraphQL(GraphQL[Context, None]):
    # Each WebSocket message is checked before Strawberry reads it (subscriptions.protocols).
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        schema = build_schema(QueryLimits.from_settings(runtime.settings))
        gate = runtime.security.gate if runtime.security else None
        if gate is not None:
            schema.admit_stream = lambda context: admit_operation(gate, context)
        super().__init__(schema, **kwargs)
        self.runtime = runtime

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """``connection_init``: the API key in its payload (``security.websocket``)."""
        gate = self.runtime.security.gate if self.runtime.security else None
        if gate is not None:
            await admit_connection(gate, context.request, context.connection_params)
        ack: UnsetType = UNSET
        return ack

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        rt = self.runtime
        return Context(
            stores=rt.stores,
            settings=rt.settings,
            loaders=make_loaders(rt.stores, rt.settings),
            request=request,
            response=response,
            hub=rt.hub,
        )

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self._ide_html)

    @cached_property
    def _ide_html(self) -> str:
        """Strawberry's GraphiQL page with its scripts served from here, not a CDN."""
        html = self.graphql_ide_html
        for cdn, local in _IDE_ASSETS.items():
            html = html.replace(cdn, f"/static/graphiql/{local}")
        if url := self.runtime.settings.subscription_url:
            # Subscriptions live elsewhere (on AWS, the stack's real-time endpoint).
            html = html.replace(
                "const subscriptionUrl = httpUrlToWebSockeUrl(fetchURL);",
                f"const subscriptionUrl = {orjson.dumps(url).decode()};",
            )
        # Subresource-integrity hashes name the CDN files; ours are the same bytes.
        return re.sub(r'\s+integrity="[^"]*"', "", html)

    async def process_result(
        self, request: Request | WebSocket, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        result.errors = mask_errors(result.errors)
        return process_result(result)

    def encode_json(self, data: object) -> str:
        # A str: WebSocket messages of the GraphQL protocols are text frames.
        return encode_json(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)


def _healthz(runtime: Runtime) -> Any:
    async def healthz(request: Request) -> Response:
        body: dict[str, Any] = {"status": "ok", "backend": runtime.settings.backend}
        try:
            newest = await offload(_ping_and_newest, runtime.stores)
        except StoreUnavailable as exc:
            log.warning("health check: store unavailable: %s", exc)
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, 503)
        body["store"] = "reachable"
        if down := runtime.stores.degraded():
            # Still 200: the store answers; what is down only makes answers slower.
            body["status"] = "degraded"
            body["degraded"] = down
        body["newest_state_age_s"] = (
            None if newest is None else round((datetime.now(UTC) - newest).total_seconds(), 1)
        )
        last = await _last_cycle(runtime)
        if last is not None:
            body["last_cycle"] = {
                "source": last.source,
                "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                "stored": last.stored,
                "rejected": last.rejected,
                "error": last.error,
            }
        return JSONResponse(body)

    return healthz


async def _last_cycle(runtime: Runtime) -> CycleReport | None:
    """This process's last cycle, or the store's newest when another process ingests."""
    if runtime.ingest is not None:
        return runtime.ingest.reports[-1] if runtime.ingest.reports else None
    try:
        recent = await offload(runtime.stores.cycles.recent_cycles, 1)
    except StoreUnavailable:
        return None
    return recent[0] if recent else None


def _ping_and_newest(stores: Stores) -> datetime | None:
    stores.ping()
    return stores.flights.newest_contact()


async def answer_live_figures(stores: Stores, settings: Settings, foreground: Foreground) -> None:
    """The dashboard's live figures, answered one at a time once no request is in
    progress (at most ``YIELD_WAIT_S`` each)."""
    for answer in live_figures(stores, settings):
        await foreground.quiet(YIELD_WAIT_S)
        await offload(answer)


def create_app(settings: Settings | None = None, *, ingest: bool | None = None) -> Starlette:
    """The app. ``ingest`` overrides ``settings.ingest`` (the API workers of a multi-worker
    ``serve`` run with ingest off; one separate process ingests)."""
    settings = settings or Settings.from_env()
    run_ingest = settings.ingest if ingest is None else ingest
    stores = open_stores(settings)
    # A cycle's reading and fan-out wait for the requests in progress: requests first.
    foreground = Foreground()
    broadcaster = build_broadcaster(settings, stores, ingests=run_ingest, yield_to=foreground.quiet)
    runtime = Runtime(
        settings=settings,
        stores=stores,
        # The dashboard's live figures are answered after each cycle, not by a request.
        hub=build_hub(
            settings,
            stores,
            broadcaster,
            shared_flight,
            after_cycle=lambda: answer_live_figures(stores, settings, foreground),
            yield_to=foreground.quiet,
        ),
        security=build_security(settings, stores),
    )
    # Live analytics count the states the hub holds, instead of reading them back each cycle.
    live_snapshots(stores, settings).follow(runtime.hub.held_for)
    security = runtime.security
    assert security is not None
    if security.gate is not None:
        security.gate.on_rate_limited(rate_limit_events(runtime.events.publish))
        security.gate.on_rate_limited(lambda refused: metrics.RATE_LIMITED.inc())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await offload(seed_airports, runtime.stores)
        remote_bus = build_event_bus(settings)
        if remote_bus is not None:
            # Local subscribers keep their events; EventBridge gets them too.
            runtime.events.subscribe(remote_bus.publish)
        async with httpx.AsyncClient(timeout=settings.http_timeout_s) as client:
            tasks = [
                asyncio.create_task(runtime.hub.run(), name="live-updates"),
                asyncio.create_task(
                    release_free_memory_every(settings.interval_s), name="malloc-trim"
                ),
            ]
            if run_ingest:
                runtime.ingest = build_ingest_loop(
                    settings, runtime.stores, client, runtime.events, publisher(broadcaster)
                )
                tasks.append(asyncio.create_task(runtime.ingest.run_forever(), name="ingest"))
            try:
                yield
            finally:
                for task in reversed(tasks):
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
        await security.aclose()
        runtime.stores.close()

    graphql = FlightGraphQL(
        runtime,
        graphql_ide="graphiql" if settings.graphiql else None,
        allow_queries_via_get=True,
        keep_alive=True,  # legacy graphql-ws "ka" messages; graphql-transport-ws has ping/pong
        keep_alive_interval=15,
        allowed_origins=settings.cors_origins,  # browsers' WebSockets from other origins
    )
    # Outside in: CORS (so refusals carry its headers and preflights need no key), gzip,
    # then the security gate (security.middleware).
    middleware = []
    if settings.cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["*"],
                expose_headers=[
                    "RateLimit-Limit",
                    "RateLimit-Remaining",
                    "RateLimit-Reset",
                    "Retry-After",
                    "X-Rate-Limit-Remaining",
                    "X-Rate-Limit-Retry-After-Seconds",
                    "X-Request-ID",
                ],
            )
        )
    middleware.append(Middleware(GzipWhenAccepted, minimum_size=1024))
    middleware.append(Middleware(SecurityMiddleware, security=security))
    # Outermost, so that every answer (a refusal of another middleware too) carries the id.
    middleware.insert(0, Middleware(RequestIdMiddleware))
    middleware.insert(0, Middleware(CountRequests, foreground=foreground))
    app = Starlette(
        routes=[
            Route(
                "/graphql",
                GraphQLPost(
                    graphql.schema,
                    graphql.get_context,
                    graphql,
                    persisted=security.persisted,
                    cache_max_age_s=settings.cache_max_age_s,
                ),
                methods=["GET", "POST"],
            ),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", _healthz(runtime)),
            *health.routes(runtime.stores, settings),
            *metrics.routes(runtime.stores, runtime.hub),
            *rest.routes(runtime.stores, settings),
            *opensky.routes(runtime.stores, settings),
            *readsb.routes(runtime.stores, settings),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            *dashboard.routes(settings),
        ],
        middleware=middleware,
        lifespan=lifespan,
    )
    if runtime.stores.cache is not None:
        runtime.events.subscribe(runtime.stores.cache.on_event)
    runtime.events.subscribe(metrics.record_event)
    app.state.runtime = runtime
    return app


def create_worker_app() -> Starlette:
    """The app of one API worker in a multi-worker ``serve``: it serves, it does not ingest."""
    settings = Settings.from_env()
    bootstrap.for_process(settings)  # a spawned worker does not inherit the CLI's logging
    tune_allocators()
    app = create_app(settings, ingest=False)
    tune_gc()  # nor its collector settings
    return app
