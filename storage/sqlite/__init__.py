"""The embedded backend: one SQLite file (WAL) under the data directory.

``states`` is the history, keyed ``(icao24, time)`` so puts are idempotent; ``latest``
holds each aircraft's newest state and answers the live queries; ``airports`` and
``dead_letters`` hold reference data and rejected records.
"""

from storage.sqlite.airports import SqliteAirportRepository
from storage.sqlite.api_keys import SqliteApiKeyRepository
from storage.sqlite.cycles import SqliteCycleRepository
from storage.sqlite.db import SqliteDatabase
from storage.sqlite.dead_letters import SqliteDeadLetterRepository
from storage.sqlite.flights import SqliteFlightRepository
from storage.sqlite.legs import SqliteLegRepository
from storage.sqlite.processed import SqliteProcessedStaging
from storage.sqlite.watches import SqliteWatchRepository

__all__ = [
    "SqliteAirportRepository",
    "SqliteApiKeyRepository",
    "SqliteCycleRepository",
    "SqliteDatabase",
    "SqliteDeadLetterRepository",
    "SqliteFlightRepository",
    "SqliteLegRepository",
    "SqliteProcessedStaging",
    "SqliteWatchRepository",
]
