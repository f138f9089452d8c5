"""The stores of one process: a repository per kind of record, the raw archive, and the
optional Redis parts in front of them; ``runtime.stores.open_stores`` opens what the
settings name."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from storage.archive import RawArchive
from storage.base import (
    AirportRepository,
    ApiKeyRepository,
    CycleRepository,
    DeadLetterRepository,
    FlightRepository,
    LegRepository,
    UnitOfWork,
    WatchRepository,
)
from storage.redis import RedisConnection
from storage.redis.cache import ResponseCache
from storage.redis.fallback import LiveFirst

if TYPE_CHECKING:
    # pyarrow, which storage.processed writes with, is not shipped with the API.
    from storage.processed import ProcessedStaging


class Backend(Protocol):
    """What holds the repositories' connections: the SQLite file, the DynamoDB client."""

    def ping(self) -> None: ...

    def close(self) -> None: ...


@dataclass
class Stores:
    flights: FlightRepository
    airports: AirportRepository
    dead_letters: DeadLetterRepository
    cycles: CycleRepository
    legs: LegRepository
    api_keys: ApiKeyRepository
    watches: WatchRepository
    archive: RawArchive
    backend: Backend
    cache: ResponseCache | None = None
    live: LiveFirst | None = None
    redis: RedisConnection | None = None
    # An ingest cycle's writes commit in one of these; states wait here for Parquet.
    unit_of_work: UnitOfWork = nullcontext
    staging: ProcessedStaging | None = None

    def ping(self) -> None:
        self.backend.ping()

    def degraded(self) -> list[str]:
        """Optional parts that are down while the API still answers from the store."""
        down = []
        if self.live is not None and self.live.degraded:
            down.append("live_index")
        if self.cache is not None and not self.cache.healthy:
            down.append("cache")
        return down

    def close(self) -> None:
        self.backend.close()
        if self.redis is not None:
            self.redis.close()

    def __enter__(self) -> Stores:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
