"""Builds what the settings describe for ingest: source, pipeline, archive, Parquet sink,
event bus, processing queue, credentials. AWS services are used when their settings name
them (``S3_RAW_BUCKET``, ``EVENTBRIDGE_BUS_NAME``, ``PROCESSING_QUEUE_URL``,
``FLIGHTDATA_SSM_PREFIX``), local stand-ins otherwise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from config import Settings
from domain.events import EventBus
from ingestion.enrichment_step import EnrichmentStep
from ingestion.loop import IngestLoop
from ingestion.pipeline import Pipeline, RetryPolicy, StoredHook
from ingestion.sources import build_source
from ingestion.validate import Rules
from storage.archive import LocalArchive
from storage.aws import aws_client
from storage.retention import FileRetention
from storage.stores import Stores

if TYPE_CHECKING:
    from storage.processed import ProcessedWriter


def build_pipeline(
    settings: Settings,
    stores: Stores,
    events: EventBus | None,
    on_stored: StoredHook | None = None,
) -> Pipeline:
    return Pipeline(
        stores.flights,
        stores.dead_letters,
        Rules(max_position_age=timedelta(seconds=settings.max_position_age_s)),
        events=events,
        alert_threshold=settings.reject_alert_rate,
        retry=RetryPolicy(attempts=settings.retry_attempts, initial_wait_s=settings.retry_wait_s),
        enrich=EnrichmentStep(
            stores.flights,
            stores.airports,
            stores.legs,
            radius_km=settings.nearest_airport_km,
        ),
        processed=build_processed_writer(settings, stores),
        on_stored=on_stored,
        cycles=stores.cycles,
        unit_of_work=stores.unit_of_work,
    )


class ProcessingQueue(Protocol):
    def send(self, message: Mapping[str, Any]) -> None: ...


def build_processed_writer(settings: Settings, stores: Stores | None = None) -> ProcessedWriter:
    # Imported here: pyarrow, which it writes with, is not shipped with the API.
    from storage.processed import LocalSink, ObjectSink, ProcessedWriter

    sink: ObjectSink = LocalSink(settings.data_dir)
    if settings.s3_raw_bucket:
        from storage.s3 import S3Sink

        sink = S3Sink(aws_client(settings, "s3"), settings.s3_raw_bucket)
    staging = None if stores is None else stores.staging
    return ProcessedWriter(sink, flush_every_s=settings.parquet_flush_s, staging=staging)


def build_event_bus(settings: Settings) -> EventBus | None:
    """EventBridge when ``EVENTBRIDGE_BUS_NAME`` is set; else no remote bus."""
    if not settings.eventbridge_bus_name:
        return None
    from ingestion.aws import EventBridgeBus

    return EventBridgeBus(aws_client(settings, "events"), settings.eventbridge_bus_name)


def build_queue(settings: Settings) -> ProcessingQueue | None:
    if not settings.processing_queue_url:
        return None
    from ingestion.aws import SqsQueue

    return SqsQueue(aws_client(settings, "sqs"), settings.processing_queue_url)


def with_ssm_credentials(settings: Settings, ssm: Any) -> Settings:
    """The settings with the credentials of the sources in use (the source and the backup)
    read from SSM Parameter Store (cached five minutes per client) when
    ``FLIGHTDATA_SSM_PREFIX`` is set: OpenSky's client id and secret (required), and the
    ADS-B Exchange key (optional: adsb.lol needs none)."""
    if ssm is None or not settings.ssm_prefix:
        return settings
    from ingestion.aws import adsbx_parameter_names, opensky_parameter_names, ssm_credentials

    in_use = {settings.source, settings.backup_source}
    found: dict[str, Any] = {}
    if "opensky" in in_use:
        found |= ssm_credentials(ssm, opensky_parameter_names(settings.ssm_prefix))
    if "adsbx" in in_use:
        found |= ssm_credentials(ssm, adsbx_parameter_names(settings.ssm_prefix), required=False)
    return replace(settings, **found)


def build_ingest_loop(
    settings: Settings,
    stores: Stores,
    client: httpx.AsyncClient,
    events: EventBus | None,
    on_stored: StoredHook | None = None,
) -> IngestLoop:
    return IngestLoop(
        build_source(settings.source, settings, client, events),
        build_pipeline(settings, stores, events, on_stored),
        interval_s=settings.interval_s,
        history=timedelta(hours=settings.history_hours),
        dead_letter_retention=timedelta(days=settings.dead_letter_days),
        archive=stores.archive,
        cycles=stores.cycles,
        events=events,
        retention=build_retention(settings, stores),
    )


def build_retention(settings: Settings, stores: Stores) -> FileRetention | None:
    """Retention of the local raw archive and Parquet; ``None`` when both are on S3."""
    archive = stores.archive if isinstance(stores.archive, LocalArchive) else None
    processed = None if settings.s3_raw_bucket else settings.data_dir
    if archive is None and processed is None:
        return None
    return FileRetention(
        archive,
        processed,
        raw=timedelta(days=settings.raw_days),
        processed=timedelta(days=settings.processed_days),
    )
