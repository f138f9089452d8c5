"""Builds the ingest loop the settings describe: source, pipeline, archive, events."""

from __future__ import annotations

from datetime import timedelta

import httpx

from config import Settings
from ingestion.enrichment import EnrichmentStep
from ingestion.events import EventBus
from ingestion.loop import IngestLoop
from ingestion.pipeline import Pipeline, RetryPolicy
from ingestion.sources import build_source
from ingestion.validate import Rules
from storage.factory import Stores
from storage.processed import LocalSink, ProcessedWriter


def build_pipeline(settings: Settings, stores: Stores, events: EventBus | None) -> Pipeline:
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
            stores.routes,
            radius_km=settings.nearest_airport_km,
        ),
        processed=ProcessedWriter(
            LocalSink(settings.data_dir), flush_every_s=settings.parquet_flush_s
        ),
    )


def build_ingest_loop(
    settings: Settings, stores: Stores, client: httpx.AsyncClient, events: EventBus | None
) -> IngestLoop:
    return IngestLoop(
        build_source(settings.source, settings, client, events),
        build_pipeline(settings, stores, events),
        interval_s=settings.interval_s,
        history=timedelta(hours=settings.history_hours),
        dead_letter_retention=timedelta(days=settings.dead_letter_days),
        archive=stores.archive,
        cycles=stores.cycles,
        events=events,
    )
