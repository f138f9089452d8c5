"""Opens the stores the settings name: SQLite and files, or DynamoDB and S3, with Redis in
front when ``REDIS_URL`` is set, behind the backend-neutral protocols of ``storage``."""

from __future__ import annotations

from datetime import timedelta

from config import Settings
from storage.archive import LocalArchive, RawArchive
from storage.aws import aws_client
from storage.dynamodb.tables import DynamoNames
from storage.sqlite import (
    SqliteAirportRepository,
    SqliteApiKeyRepository,
    SqliteCycleRepository,
    SqliteDatabase,
    SqliteDeadLetterRepository,
    SqliteFlightRepository,
    SqliteLegRepository,
    SqliteProcessedStaging,
    SqliteWatchRepository,
)
from storage.stores import Stores


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
        watches=SqliteWatchRepository(db),
        archive=_archive(settings),
        backend=db,
        unit_of_work=db.transaction,
        staging=SqliteProcessedStaging(db),
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
    return dynamo.stores(_archive(settings))


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
