"""Opens the stores the settings name, behind the backend-neutral protocols."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from config import ConfigError, Settings
from storage.archive import LocalArchive, RawArchive
from storage.base import (
    AirportRepository,
    CycleRepository,
    DeadLetterRepository,
    FlightRepository,
    RouteRepository,
)
from storage.sqlite import (
    SqliteAirportRepository,
    SqliteCycleRepository,
    SqliteDatabase,
    SqliteDeadLetterRepository,
    SqliteFlightRepository,
    SqliteRouteRepository,
)

log = logging.getLogger(__name__)


@dataclass
class Stores:
    flights: FlightRepository
    airports: AirportRepository
    dead_letters: DeadLetterRepository
    cycles: CycleRepository
    routes: RouteRepository
    archive: RawArchive
    db: SqliteDatabase

    def ping(self) -> None:
        self.db.ping()

    def close(self) -> None:
        self.db.close()


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client: the settings' region, their local endpoint if any (DynamoDB Local,
    the moto server), standard retries and bounded timeouts."""
    import boto3
    from botocore.config import Config

    endpoint = settings.aws_endpoint_url or None
    if service == "dynamodb" and settings.dynamodb_endpoint_url:
        endpoint = settings.dynamodb_endpoint_url
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=settings.aws_region,
        endpoint_url=endpoint,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3}, connect_timeout=5, read_timeout=30
        ),
    )


def _archive(settings: Settings) -> RawArchive:
    if not settings.s3_raw_bucket:
        return LocalArchive(settings.data_dir)
    from storage.s3 import S3Archive

    return S3Archive(aws_client(settings, "s3"), settings.s3_raw_bucket)


def open_stores(settings: Settings) -> Stores:
    if settings.backend != "embedded":
        raise ConfigError(f"FLIGHTDATA_BACKEND: the {settings.backend} stores are not wired yet")
    db = SqliteDatabase(settings.database_path)
    return Stores(
        flights=SqliteFlightRepository(db),
        airports=SqliteAirportRepository(db),
        dead_letters=SqliteDeadLetterRepository(db),
        cycles=SqliteCycleRepository(db),
        routes=SqliteRouteRepository(db),
        archive=_archive(settings),
        db=db,
    )


def seed_airports(stores: Stores) -> int:
    """Load the offline airport list into an empty airport store; returns rows loaded."""
    if stores.airports.count():
        return 0
    from ingestion.reference import airportsdata_airports

    loaded = stores.airports.put_airports(airportsdata_airports())
    log.info("loaded %d airports from airportsdata", loaded)
    return loaded
