"""Opens the stores the settings name, behind the backend-neutral protocols."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from config import Settings
from storage.archive import LocalArchive, RawArchive
from storage.base import (
    AirportRepository,
    ApiKeyRepository,
    CycleRepository,
    DeadLetterRepository,
    FlightRepository,
    LegRepository,
)
from storage.dynamodb.tables import DynamoNames
from storage.redis import RedisConnection
from storage.redis.cache import ResponseCache
from storage.redis.fallback import LiveFirst
from storage.sqlite import (
    SqliteAirportRepository,
    SqliteApiKeyRepository,
    SqliteCycleRepository,
    SqliteDatabase,
    SqliteDeadLetterRepository,
    SqliteFlightRepository,
    SqliteLegRepository,
)


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
    archive: RawArchive
    backend: Backend
    cache: ResponseCache | None = None
    live: LiveFirst | None = None
    redis: RedisConnection | None = None

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


def aws_client(settings: Settings, service: str) -> Any:
    """A boto3 client: the settings' region, their local endpoint if any (DynamoDB Local,
    the moto server), one retry layer and bounded timeouts.

    Retries: botocore's standard mode (3 retries: 4 requests at most) for S3, SQS,
    EventBridge and SSM; none for DynamoDB, whose single retry layer is
    ``storage.dynamodb._client.Dynamo`` (with botocore's too, each of its attempts would be
    up to four requests).

    The DynamoDB client skips botocore's parameter validation: DynamoDB validates every
    request itself (a bad one is a ``ValidationException``, ``StoreUnavailable`` as a
    client-side failure would be), and walking each attribute of each item in Python was
    a quarter of the client CPU of an ingest cycle (measured: 0.45 of 1.7 s, 5,485 states).
    """
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
            retries=(
                {"mode": "standard", "total_max_attempts": 1}
                if service == "dynamodb"
                else {"mode": "standard", "max_attempts": 3}
            ),
            connect_timeout=5,
            read_timeout=30,
            parameter_validation=service != "dynamodb",
        ),
    )


def _archive(settings: Settings) -> RawArchive:
    if not settings.s3_raw_bucket:
        return LocalArchive(settings.data_dir)
    from storage.s3 import S3Archive

    return S3Archive(aws_client(settings, "s3"), settings.s3_raw_bucket)


def open_stores(settings: Settings) -> Stores:
    stores = _open_dynamodb(settings) if settings.backend == "aws" else _open_sqlite(settings)
    return _with_redis(settings, stores)


def _open_sqlite(settings: Settings) -> Stores:
    db = SqliteDatabase(settings.database_path)
    return Stores(
        flights=SqliteFlightRepository(db),
        airports=SqliteAirportRepository(db),
        dead_letters=SqliteDeadLetterRepository(db),
        cycles=SqliteCycleRepository(db),
        legs=SqliteLegRepository(db),
        api_keys=SqliteApiKeyRepository(db),
        archive=_archive(settings),
        backend=db,
    )


def dynamo_names(settings: Settings) -> DynamoNames:
    return DynamoNames(
        flights=settings.dynamodb_flights_table,
        airports=settings.dynamodb_airports_table,
        ops=settings.dynamodb_ops_table,
    )


def _open_dynamodb(settings: Settings) -> Stores:
    from storage.dynamodb import open_dynamo_stores

    dynamo = open_dynamo_stores(
        aws_client(settings, "dynamodb"),
        dynamo_names(settings),
        retention=timedelta(days=settings.dynamodb_history_days),
        recent_window=timedelta(seconds=_live_ttl_s(settings)),
        position_age=timedelta(seconds=settings.max_position_age_s),
    )
    return Stores(
        flights=dynamo.flights,
        airports=dynamo.airports,
        dead_letters=dynamo.dead_letters,
        cycles=dynamo.cycles,
        legs=dynamo.legs,
        api_keys=dynamo.api_keys,
        archive=_archive(settings),
        backend=dynamo,
    )


def _with_redis(settings: Settings, stores: Stores) -> Stores:
    """Put Redis in front of the stores when ``REDIS_URL`` or ``REDIS_CLUSTER_ENDPOINT`` is
    set: the live index answers live queries, the cache answers repeated ones, and both
    fall back to the store when Redis is down."""
    from storage.redis import connect, redis_url

    url = redis_url(settings.redis_url, settings.redis_cluster_endpoint)
    if url is None:
        return stores
    from storage.cached import CachedAirports, CachedFlights
    from storage.dynamodb.flights import DynamoFlightRepository
    from storage.redis.cache import ResponseCache
    from storage.redis.fallback import LiveFirst
    from storage.redis.live import RedisLiveIndex

    client = connect(url)  # lazy: a Redis that is down fails no start-up
    # While Redis cannot answer, DynamoDB's RegionTimeIndex answers bbox queries.
    recent = stores.flights if isinstance(stores.flights, DynamoFlightRepository) else None
    live = LiveFirst(
        RedisLiveIndex(client, ttl_s=_live_ttl_s(settings)), stores.flights, recent=recent
    )
    cache = ResponseCache(client)
    stores.flights = CachedFlights(live, cache)
    stores.airports = CachedAirports(stores.airports, cache)
    stores.live, stores.cache, stores.redis = live, cache, client
    return stores


def _live_ttl_s(settings: Settings) -> int:
    """How long the live index holds an aircraft: the live window, plus clock skew and lag."""
    return int(settings.live_window_s) + 120
