"""The AWS backend's stores: the repository protocols on DynamoDB.

Three tables (``tables``): ``flights`` (state history), ``airports`` (reference data) and
``ops`` (single-table: latest states, dead letters, cycles, route legs, runways, API
keys, watched aircraft). The client comes from the caller (``boto3.client("dynamodb",
...)``), typed by the narrow ``DynamoClientProtocol``; nothing here creates one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from storage.dynamodb._client import Backoff, DynamoClientProtocol, DynamoUnavailable
from storage.dynamodb.airports import AirportIndex, DynamoAirportRepository
from storage.dynamodb.api_keys import DynamoApiKeyRepository
from storage.dynamodb.flights import DynamoFlightRepository
from storage.dynamodb.ops import (
    DynamoCycleRepository,
    DynamoDeadLetterRepository,
    DynamoLegRepository,
)
from storage.dynamodb.tables import TABLES, DynamoNames, create_tables
from storage.dynamodb.watches import DynamoWatchRepository

if TYPE_CHECKING:
    from storage.archive import RawArchive
    from storage.stores import Stores

__all__ = [
    "TABLES",
    "AirportIndex",
    "Backoff",
    "DynamoAirportRepository",
    "DynamoClientProtocol",
    "DynamoCycleRepository",
    "DynamoDeadLetterRepository",
    "DynamoFlightRepository",
    "DynamoLegRepository",
    "DynamoNames",
    "DynamoStores",
    "DynamoUnavailable",
    "DynamoWatchRepository",
    "create_tables",
    "open_dynamo_stores",
]


@dataclass
class DynamoStores:
    """The seven repositories on one client; ``close`` stops their worker threads."""

    flights: DynamoFlightRepository
    airports: DynamoAirportRepository
    dead_letters: DynamoDeadLetterRepository
    cycles: DynamoCycleRepository
    legs: DynamoLegRepository
    api_keys: DynamoApiKeyRepository
    watches: DynamoWatchRepository
    client: DynamoClientProtocol = field(repr=False)
    names: DynamoNames

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the flights table can be described."""
        from storage.dynamodb._client import Dynamo

        Dynamo(self.client, backoff=Backoff(attempts=1)).call(
            self.client.describe_table, TableName=self.names.flights
        )

    def close(self) -> None:
        for repo in (
            self.flights,
            self.airports,
            self.dead_letters,
            self.cycles,
            self.legs,
            self.api_keys,
            self.watches,
        ):
            repo.close()

    def stores(self, archive: RawArchive) -> Stores:
        """These repositories as a process's ``Stores``, raw bodies kept in ``archive``."""
        from storage.stores import Stores

        return Stores(
            flights=self.flights,
            airports=self.airports,
            dead_letters=self.dead_letters,
            cycles=self.cycles,
            legs=self.legs,
            api_keys=self.api_keys,
            watches=self.watches,
            archive=archive,
            backend=self,
        )


def open_dynamo_stores(
    client: DynamoClientProtocol,
    names: DynamoNames,
    *,
    retention: timedelta = timedelta(days=7),
    airport_index: AirportIndex | None = None,
    backoff: Backoff | None = None,
    workers: int = 8,
    recent_window: timedelta = timedelta(minutes=7),
    position_age: timedelta = timedelta(minutes=5),
) -> DynamoStores:
    """The repositories on existing tables (``create_tables`` makes them).

    ``recent_window`` bounds how far back ``flights.search_recent`` answers (the live
    window and its margin), ``position_age`` is validation's oldest position.
    """
    return DynamoStores(
        flights=DynamoFlightRepository(
            client,
            names,
            retention=retention,
            backoff=backoff,
            workers=workers,
            recent_window=recent_window,
            position_age=position_age,
        ),
        airports=DynamoAirportRepository(
            client, names, index=airport_index, backoff=backoff, workers=workers
        ),
        dead_letters=DynamoDeadLetterRepository(client, names, backoff=backoff, workers=workers),
        cycles=DynamoCycleRepository(client, names, backoff=backoff),
        legs=DynamoLegRepository(client, names, backoff=backoff, workers=workers),
        api_keys=DynamoApiKeyRepository(client, names.ops),
        watches=DynamoWatchRepository(client, names.ops),
        client=client,
        names=names,
    )
