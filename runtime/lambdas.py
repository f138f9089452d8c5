"""The five AWS Lambda handlers (``serverless.yml``'s ``handler:`` lines): the scheduled
fetcher, the SQS processor, the daily analytics, the HTTP API (``http``, also ``app.handler``)
and the WebSocket API (``websocket``).

``fetcher`` fetches the configured source (with the loop's retries), archives the raw
body and asks for it to be processed: through the processing queue when one is
configured (``PROCESSING_QUEUE_URL``, wired with SQS on AWS), else in the same
invocation. ``processor`` takes an SQS batch of such messages, processes each archived
body, and reports the messages that failed in ``batchItemFailures`` so SQS retries only
those (and moves them to the DLQ after three receives).

The fetcher asks the backup source (``FLIGHTDATA_BACKUP_SOURCE``, ADS-B Exchange) after the
source failed ``FLIGHTDATA_FAILOVER_AFTER`` cycles in a row, and the source again every
``FLIGHTDATA_FAILBACK_EVERY`` cycles (``ingestion.failover``), and publishes a
SystemHealthCheck at most once a minute. The processor's events go to EventBridge and, with
Redis, retire the cached flights pages (``ResponseCache.on_event``) when a cycle stored
states. The API publishes its RateLimitExceeded events to EventBridge.

``analytics`` (scheduled daily at 00:30 UTC) writes the previous UTC day's analytics
documents beside the processed Parquet (``analytics.daily``).

Each builds what it needs on the first invocation and keeps it while the container is warm;
importing this module builds nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from config import ConfigError, Settings
from domain.cycle import CycleReport
from domain.events import InProcessBus, SystemHealthCheck
from ingestion.failover import Failover, Role
from ingestion.loop import FetchFailed, IngestLoop, new_cycle_id
from ingestion.pipeline import Pipeline
from ingestion.rerun import normaliser_for
from ingestion.sources import build_source
from observability import bootstrap
from observability.context import CYCLE_ID, bound
from observability.emf import EmfWriter
from runtime.ingest import (
    ProcessingQueue,
    build_event_bus,
    build_pipeline,
    build_queue,
    with_ssm_credentials,
)
from runtime.stores import open_stores
from storage.aws import aws_client
from storage.base import StoreUnavailable
from storage.stores import Stores

if TYPE_CHECKING:
    from mangum import Mangum

    from analytics.daily import DailyProcessor
    from storage.redis.cache import ResponseCache
    from subscriptions.lambda_ws import WebSocketApi

log = logging.getLogger(__name__)
HEALTH_EVERY_S = 60.0


@dataclass
class _Runtime:
    settings: Settings
    stores: Stores
    pipeline: Pipeline
    queue: ProcessingQueue | None = None
    ssm: Any = None
    emf: EmfWriter | None = None
    failover: Failover | None = None
    last_health: float = float("-inf")


_runtime: _Runtime | None = None
_analytics: DailyProcessor | None = None
_analytics_stores: Stores | None = None
_websocket: WebSocketApi | None = None


def _get_runtime() -> _Runtime:
    global _runtime
    if _runtime is None:
        settings = Settings.from_env()
        emf = bootstrap.for_lambda(settings)
        stores = open_stores(settings)
        failover = None
        if settings.backup_source:
            failover = Failover(after=settings.failover_after, probe_every=settings.failback_every)
        _runtime = _Runtime(
            settings,
            stores,
            build_pipeline(settings, stores, build_events(settings, stores)),
            queue=build_queue(settings),
            ssm=aws_client(settings, "ssm") if settings.ssm_prefix else None,
            emf=emf,
            failover=failover,
        )
    return _runtime


def build_events(settings: Settings, stores: Stores) -> InProcessBus:
    """The bus of a function's events: EventBridge when the settings name one, and the
    response cache's invalidation when Redis is in front of the stores."""
    events = InProcessBus()
    remote = build_event_bus(settings)
    if remote is not None:
        events.subscribe(remote.publish)
    if stores.cache is not None:
        events.subscribe(stores.cache.on_event)
    return events


def reset_runtime() -> None:
    """Forget the warm runtimes (tests; a new configuration)."""
    global _runtime, _analytics, _analytics_stores, _websocket
    if _runtime is not None:
        _runtime.stores.close()
    if _analytics_stores is not None:
        _analytics_stores.close()
    if _websocket is not None:
        _websocket.close()
    _runtime = _analytics = _analytics_stores = _websocket = None


def _summary(report: CycleReport) -> dict[str, Any]:
    return {
        "cycle_id": report.cycle_id,
        "source": report.source,
        "archive_key": report.archive_key,
        "received": report.received,
        "stored": report.stored,
        "rejected": report.rejected,
        "duplicates": report.duplicates,
        "error": report.error,
    }


def _invocation(context: Any) -> str | None:
    """The Lambda request id, which the invocation's logs and metrics carry."""
    request_id = getattr(context, "aws_request_id", None)
    return request_id if isinstance(request_id, str) else None


def _cycle_metrics(rt: _Runtime, report: CycleReport, function: str) -> None:
    if rt.emf is not None:
        rt.emf.cycle(report, function=function)


def fetcher(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Scheduled fetch: one ingest cycle of the configured source."""
    rt = _get_runtime()
    with bound(request_id=_invocation(context)):
        return asyncio.run(_fetch(rt))


async def _fetch(rt: _Runtime) -> dict[str, Any]:
    # Per invocation, so that rotated credentials arrive within the SSM cache's lifetime.
    settings = with_ssm_credentials(rt.settings, rt.ssm)
    async with httpx.AsyncClient(timeout=settings.http_timeout_s) as client:
        if rt.queue is None:
            loop = _loop(rt, settings, settings.source, client)
            report = await loop.run_once()
            await loop.flush_processed()
            _cycle_metrics(rt, report, "fetcher")
            return _summary(report)
        attempts = rt.failover.attempts() if rt.failover is not None else (Role.PRIMARY,)
        result: dict[str, Any] = {}
        for role in attempts:
            spec = settings.source if role is Role.PRIMARY else settings.backup_source
            result = await _fetch_queued(rt, _loop(rt, settings, spec, client))
            if rt.failover is not None:
                rt.failover.record(role, ok=not result.get("error"))
            if not result.get("error"):
                break
        _health_check(rt, result)
        return result


def _loop(rt: _Runtime, settings: Settings, spec: str, client: httpx.AsyncClient) -> IngestLoop:
    return IngestLoop(
        build_source(spec, settings, client, rt.pipeline.events),
        rt.pipeline,
        interval_s=rt.settings.interval_s,
        history=timedelta(hours=rt.settings.history_hours),
        archive=rt.stores.archive,
        cycles=rt.stores.cycles,
        events=rt.pipeline.events,
    )


def _health_check(rt: _Runtime, result: dict[str, Any]) -> None:
    """SystemHealthCheck, at most once every ``HEALTH_EVERY_S`` per warm container."""
    if rt.pipeline.events is None or time.monotonic() - rt.last_health < HEALTH_EVERY_S:
        return
    rt.last_health = time.monotonic()
    error = result.get("error")
    checks = {"last_fetch": str(error or "ok"), "source": str(result.get("source", ""))}
    on_backup = rt.failover is not None and rt.failover.active is Role.BACKUP
    if rt.failover is not None:
        checks["active_source"] = rt.failover.active.value
        checks["primary_failures"] = str(rt.failover.failures)
    status = "degraded" if error or on_backup else "ok"
    rt.pipeline.events.publish(SystemHealthCheck(status=status, checks=checks))


async def _fetch_queued(rt: _Runtime, loop: IngestLoop) -> dict[str, Any]:
    """Fetch and archive one body and queue it for the processor."""
    assert rt.queue is not None
    cycle_id = new_cycle_id(loop.source.name, datetime.now(UTC))
    CYCLE_ID.set(cycle_id)  # in asyncio.run's own context: gone with the invocation
    try:
        payload, key = await loop.fetch_archived(cycle_id)
    except FetchFailed as exc:
        if rt.emf is not None:
            rt.emf.put({"FetchFailed": (1, "Count")}, {"Source": loop.source.name})
        return {
            "cycle_id": cycle_id,
            "source": loop.source.name,
            "archive_key": exc.archive_key,
            "error": str(exc),
        }
    if key is None:
        # The archive is down: nothing to queue, but the data need not be lost.
        report = rt.pipeline.process(
            loop.source.name, payload, loop.source.normalise, cycle_id=cycle_id
        )
        rt.stores.cycles.put_cycle(report)
        _cycle_metrics(rt, report, "fetcher")
        return _summary(report)
    message = {"archive_key": key, "source": loop.source.name, "cycle_id": cycle_id}
    rt.queue.send(message)
    return {**message, "queued": True}


def processor(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """SQS batch: process each archived body; failed messages are reported for retry."""
    rt = _get_runtime()
    failures: list[dict[str, str]] = []
    with bound(request_id=_invocation(context)):
        for record in event.get("Records", []):
            message_id = str(record.get("messageId", ""))
            try:
                report = _process_message(rt, orjson.loads(record["body"]))
            except Exception:
                log.exception("processing message %s failed", message_id)
                failures.append({"itemIdentifier": message_id})
                continue
            _cycle_metrics(rt, report, "processor")
            if report.error:
                failures.append({"itemIdentifier": message_id})
        if rt.pipeline.processed is not None:
            rt.pipeline.processed.flush()
        if rt.emf is not None:
            rt.emf.put({"BatchItemFailures": (len(failures), "Count")}, {"Function": "processor"})
            _data_age(rt, rt.emf)
    return {"batchItemFailures": failures}


def _data_age(rt: _Runtime, emf: EmfWriter) -> None:
    try:
        newest = rt.stores.flights.newest_contact()
    except StoreUnavailable as exc:
        log.warning("data age not measured: %s", exc)
        return
    emf.data_age(newest, function="processor")


def _process_message(rt: _Runtime, message: dict[str, Any]) -> CycleReport:
    cycle_id = str(message.get("cycle_id") or "")
    with bound(cycle_id=cycle_id or None):
        body = rt.stores.archive.get(str(message["archive_key"]))
        payload = orjson.loads(body.body)
        report = rt.pipeline.process(
            body.source,
            payload,
            normaliser_for(body.source, payload),
            cycle_id=cycle_id,
            archive_key=body.key,
        )
        rt.stores.cycles.put_cycle(report)
    return report


def _get_analytics() -> DailyProcessor:
    global _analytics, _analytics_stores
    if _analytics is None:
        # Imported here: the ingest functions need neither DuckDB nor its import time.
        from analytics.daily import build_processor

        settings = Settings.from_env()
        bootstrap.for_lambda(settings)
        # Only the ops table (route legs, cycles) is read: all the analytics role may.
        _analytics_stores = open_stores(settings)
        _analytics = build_processor(settings, _analytics_stores.legs, _analytics_stores.cycles)
    return _analytics


def _analytics_day(event: dict[str, Any]) -> date:
    from analytics.daily import yesterday

    if event.get("date"):
        return date.fromisoformat(str(event["date"]))
    scheduled = event.get("time")
    at = datetime.fromisoformat(str(scheduled).replace("Z", "+00:00")) if scheduled else None
    return yesterday(at)


def analytics(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Daily: the analytics documents of the UTC day before the event's ``time`` (a late or
    retried invocation still does the day it was scheduled for), or of ``{"date":
    "YYYY-MM-DD"}`` when invoked by hand. The day's Parquet is compacted first (one file
    per region instead of one per flush); a retry after a crash finishes that, so the
    documents never count a row twice."""
    from analytics.compaction import build_compactor

    day = _analytics_day(event)
    with bound(request_id=_invocation(context)):
        compacted = build_compactor(Settings.from_env()).compact_day(day)
        merged = sum(len(r.deleted) for r in compacted)
        log.info(
            "compacted %s: %d files into %d", day, merged, sum(1 for r in compacted if r.written)
        )
        keys, summary = _get_analytics().run(day)
        log.info("analytics of %s: %d states, %d aircraft", day, summary.states, summary.aircraft)
    return {
        "day": day.isoformat(),
        "keys": keys,
        "states": summary.states,
        "aircraft": summary.aircraft,
        "compacted_files": merged,
    }


class LazyMangum:
    """The HTTP API's handler: builds the app on the first invocation, not at import, and
    keeps it warm after.

    Lifespan is off: Mangum would run startup and shutdown on every invocation, so the
    app's events (RateLimitExceeded) are sent to EventBridge from here. After each
    invocation the response cache's new hits and misses go out as EMF metrics.
    """

    def __init__(self) -> None:
        self._handler: Mangum | None = None
        self._emf: EmfWriter | None = None
        self._cache: ResponseCache | None = None
        self._counted = (0, 0)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self._handler is None:
            from mangum import Mangum

            from runtime.http import create_app

            settings = Settings.from_env()
            self._emf = bootstrap.for_lambda(settings, graphql=True)
            app = create_app(settings, ingest=False)
            # The lifespan that would subscribe EventBridge does not run here.
            remote = build_event_bus(settings)
            if remote is not None:
                app.state.runtime.events.subscribe(remote.publish)
            self._cache = app.state.runtime.stores.cache
            self._handler = Mangum(app, lifespan="off")
        result: dict[str, Any] = self._handler(event, context)
        self._count_cache()
        return result

    def _count_cache(self) -> None:
        if self._cache is None or self._emf is None:
            return
        hits, misses = self._cache.hits, self._cache.misses
        self._emf.cache(hits - self._counted[0], misses - self._counted[1], function="api")
        self._counted = (hits, misses)


http = LazyMangum()


def websocket_api() -> WebSocketApi:
    """The WebSocket API's runtime, built on the first invocation and kept while warm."""
    global _websocket
    if _websocket is None:
        from resolvers.root import build_schema
        from security.gate import build_security
        from storage.dynamodb.connections import DynamoConnectionRepository
        from subscriptions.lambda_ws import WebSocketApi

        settings = Settings.from_env()
        if not settings.dynamodb_connections_table:
            raise ConfigError("DYNAMODB_CONNECTIONS_TABLE: required by the WebSocket handler")
        stores = open_stores(settings)
        _websocket = WebSocketApi(
            settings=settings,
            stores=stores,
            connections=DynamoConnectionRepository(
                aws_client(settings, "dynamodb"), settings.dynamodb_connections_table
            ),
            schema=build_schema(),
            management_client=lambda endpoint: _management_client(settings, endpoint),
            gate=build_security(settings, stores).gate,
        )
    return _websocket


def _management_client(settings: Settings, endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=settings.aws_region,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=10
        ),
    )


def websocket(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """API Gateway WebSocket routes and EventBridge FlightDataProcessed events."""
    return websocket_api().handle(event)
