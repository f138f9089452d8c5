"""Opens the stores the settings name, behind the backend-neutral protocols."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from config import Settings
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


def open_stores(settings: Settings) -> Stores:
    db = SqliteDatabase(settings.database_path)
    return Stores(
        flights=SqliteFlightRepository(db),
        airports=SqliteAirportRepository(db),
        dead_letters=SqliteDeadLetterRepository(db),
        cycles=SqliteCycleRepository(db),
        routes=SqliteRouteRepository(db),
        archive=LocalArchive(settings.data_dir),
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
