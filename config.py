"""Settings, read once from an environment mapping.

Every setting has an environment variable; ``Settings.from_env`` reads them, converts
them and fails loudly, naming the variable, on a value it cannot use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Where `npm run build` in dashboard/ writes the dashboard (FLIGHTDATA_DASHBOARD_DIR).
DASHBOARD_DIST = Path(__file__).resolve().parent / "dashboard" / "dist"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names its environment variable."""


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _positive(kind: Callable[[str], T]) -> Callable[[str], T]:
    def convert(raw: str) -> T:
        value = kind(raw)
        if not value > 0:  # type: ignore[operator]  # NaN is not > 0 either
            raise ValueError(f"must be greater than 0, got {raw!r}")
        return value

    return convert


def _port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(f"must be a TCP port from 1 to 65535, got {raw!r}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _non_negative(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError(f"must be 0 or more, got {raw!r}")
    return value


def _bbox(raw: str) -> tuple[float, float, float, float]:
    parts = _csv(raw)
    if len(parts) != 4:
        raise ValueError(f"expected lamin,lomin,lamax,lomax, got {raw!r}")
    lamin, lomin, lamax, lomax = (float(p) for p in parts)
    if not (-90 <= lamin <= lamax <= 90 and -180 <= lomin <= lomax <= 180):
        raise ValueError(
            f"expected -90 <= lamin <= lamax <= 90 and -180 <= lomin <= lomax <= 180, got {raw!r}"
        )
    return lamin, lomin, lamax, lomax


def _tiers(raw: str) -> tuple[tuple[str, float, int], ...]:
    """``name=RATE:BURST,...``: requests per second refilled, and the bucket's size."""
    tiers = []
    for part in _csv(raw):
        name, _, spec = part.partition("=")
        rate, _, burst = spec.partition(":")
        try:
            tier = (name.strip(), float(rate), int(burst))
        except ValueError:
            tier = ("", 0.0, 0)
        if not tier[0] or not tier[1] > 0 or tier[2] < 1:
            raise ValueError(
                f"expected name=RATE:BURST (RATE > 0 per second, BURST >= 1), got {part!r}"
            )
        tiers.append(tier)
    if not tiers:
        raise ValueError("expected at least one name=RATE:BURST")
    return tuple(tiers)


def _one_of(*choices: str) -> Callable[[str], str]:
    def convert(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return convert


def _degrees(limit: float) -> Callable[[str], float]:
    def convert(raw: str) -> float:
        value = float(raw)
        if not -limit <= value <= limit:  # also refuses NaN
            raise ValueError(f"must be between -{limit:g} and {limit:g} degrees, got {raw!r}")
        return value

    return convert


def _tile_url(raw: str) -> str:
    """A slippy-map tile URL template: http(s), or a path on this host, with {z} {x} {y}."""
    value = raw.strip()
    if not value.startswith(("https://", "http://", "/")) or value.startswith("//"):
        raise ValueError(f"expected an http(s) URL or a path starting with /, got {raw!r}")
    missing = [p for p in ("{z}", "{x}", "{y}") if p not in value]
    if missing:
        raise ValueError(f"expected {', '.join(missing)} in the tile URL, got {raw!r}")
    return value


def _ws_url(raw: str) -> str:
    value = raw.strip()
    if not value.startswith(("wss://", "ws://")) or len(value) <= len("wss://"):
        raise ValueError(f"expected a ws:// or wss:// URL, got {raw!r}")
    return value


def _setting(
    env: str, default: Any, convert: Callable[[str], Any] = str, *, secret: bool = False
) -> Any:
    return field(default=default, repr=not secret, metadata={"env": env, "convert": convert})


_REQUIRED_FOR_AWS = frozenset(
    {"dynamodb_flights_table", "dynamodb_airports_table", "dynamodb_ops_table", "s3_raw_bucket"}
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting("FLIGHTDATA_DATA_DIR", Path("var"), Path)
    source: str = _setting("FLIGHTDATA_SOURCE", "replay")
    # The Lambda fetcher's backup source (ingestion.failover): asked after the source
    # failed FLIGHTDATA_FAILOVER_AFTER cycles in a row; the source is tried again every
    # FLIGHTDATA_FAILBACK_EVERY cycles on the backup. Empty: no backup.
    backup_source: str = _setting("FLIGHTDATA_BACKUP_SOURCE", "")
    failover_after: int = _setting("FLIGHTDATA_FAILOVER_AFTER", 3, _positive(int))
    failback_every: int = _setting("FLIGHTDATA_FAILBACK_EVERY", 10, _positive(int))
    interval_s: float = _setting("FLIGHTDATA_INTERVAL", 10.0, _positive(float))
    ingest: bool = _setting("FLIGHTDATA_INGEST", True, _bool)
    host: str = _setting("HOST", "127.0.0.1")
    port: int = _setting("PORT", 8000, _port)
    workers: int = _setting("WEB_CONCURRENCY", 1, _positive(int))
    backend: str = _setting("FLIGHTDATA_BACKEND", "embedded")
    max_page_size: int = _setting("MAX_PAGE_SIZE", 1000, _positive(int))
    max_position_age_s: float = _setting("FLIGHTDATA_MAX_POSITION_AGE", 300.0, _positive(float))
    reject_alert_rate: float = _setting("FLIGHTDATA_REJECT_ALERT_RATE", 0.10, _positive(float))
    retry_attempts: int = _setting("FLIGHTDATA_RETRY_ATTEMPTS", 3, _positive(int))
    retry_wait_s: float = _setting("FLIGHTDATA_RETRY_WAIT", 0.5, _non_negative)
    parquet_flush_s: float = _setting("FLIGHTDATA_PARQUET_FLUSH", 300.0, _positive(float))
    live_window_s: float = _setting("FLIGHTDATA_LIVE_WINDOW", 300.0, _positive(float))
    dynamodb_history_days: float = _setting("DYNAMODB_HISTORY_DAYS", 7.0, _positive(float))
    history_hours: float = _setting("FLIGHTDATA_HISTORY_HOURS", 6.0, _positive(float))
    dead_letter_days: float = _setting("FLIGHTDATA_DEAD_LETTER_DAYS", 30.0, _positive(float))
    # Days the local raw archive and Parquet are kept (storage.retention); 0 keeps them
    # for ever. What they cost on disk an hour is in docs/performance.md.
    raw_days: float = _setting("FLIGHTDATA_RAW_DAYS", 1.0, _non_negative)
    processed_days: float = _setting("FLIGHTDATA_PROCESSED_DAYS", 7.0, _non_negative)
    nearest_airport_km: float = _setting("FLIGHTDATA_NEAREST_AIRPORT_KM", 50.0, _positive(float))
    opensky_api_url: str = _setting("OPENSKY_API_URL", "https://opensky-network.org/api")
    adsbx_api_url: str = _setting("ADSBX_API_URL", "https://api.adsb.lol")
    adsbx_path: str = _setting("ADSBX_PATH", "/v2/point/{lat}/{lon}/{radius}")
    adsbx_lat: float | None = _setting("ADSBX_LAT", None, float)
    adsbx_lon: float | None = _setting("ADSBX_LON", None, float)
    adsbx_radius_nm: float | None = _setting("ADSBX_RADIUS_NM", None, _positive(float))
    adsbx_auth_style: str = _setting("ADSBX_AUTH_STYLE", "none")
    adsbx_api_key: str = _setting("ADSBX_API_KEY", "")
    adsbx_rapidapi_host: str = _setting("ADSBX_RAPIDAPI_HOST", "")
    receiver_url: str = _setting("RECEIVER_URL", "/run/readsb/aircraft.json")
    opensky_client_id: str = _setting("OPENSKY_CLIENT_ID", "")
    opensky_client_secret: str = _setting("OPENSKY_CLIENT_SECRET", "", secret=True)
    opensky_auth_url: str = _setting(
        "OPENSKY_AUTH_URL",
        "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token",
    )
    opensky_username: str = _setting("OPENSKY_USERNAME", "")
    opensky_password: str = _setting("OPENSKY_PASSWORD", "", secret=True)
    opensky_bbox: tuple[float, float, float, float] | None = _setting("OPENSKY_BBOX", None, _bbox)
    opensky_icao24: tuple[str, ...] = _setting("OPENSKY_ICAO24", (), _csv)
    opensky_max_retry_after_s: float = _setting("OPENSKY_MAX_RETRY_AFTER", 300.0, _non_negative)
    # The AWS backend (FLIGHTDATA_BACKEND=aws); AWS_ENDPOINT_URL points every client at
    # local engines (DynamoDB Local, the moto server) instead of AWS.
    aws_endpoint_url: str = _setting("AWS_ENDPOINT_URL", "")
    dynamodb_endpoint_url: str = _setting("DYNAMODB_ENDPOINT_URL", "")
    aws_region: str = _setting("AWS_REGION", "eu-west-1")
    dynamodb_flights_table: str = _setting("DYNAMODB_FLIGHTS_TABLE", "")
    dynamodb_airports_table: str = _setting("DYNAMODB_AIRPORTS_TABLE", "")
    dynamodb_ops_table: str = _setting("DYNAMODB_OPS_TABLE", "")
    s3_raw_bucket: str = _setting("S3_RAW_BUCKET", "")
    # Windowed analytics on Athena (analytics.athena) when a workgroup is named: its Glue
    # database holds the table ``flights`` over processed/flights/. Empty: DuckDB.
    athena_workgroup: str = _setting("ATHENA_WORKGROUP", "")
    glue_database: str = _setting("GLUE_DATABASE", "")
    processing_queue_url: str = _setting("PROCESSING_QUEUE_URL", "")
    eventbridge_bus_name: str = _setting("EVENTBRIDGE_BUS_NAME", "")
    # The WebSocket API on Lambda (subscriptions.lambda_ws): its connections table, and
    # its management endpoint (https://{api-id}.execute-api.{region}.amazonaws.com/{stage});
    # without one, the endpoint is derived from each event's domain name and stage.
    dynamodb_connections_table: str = _setting("DYNAMODB_CONNECTIONS_TABLE", "")
    websocket_api_endpoint: str = _setting("WEBSOCKET_API_ENDPOINT", "")
    # The AppSync API's GraphQL URL, where the publisher sends each cycle (IAM-signed).
    appsync_graphql_url: str = _setting("APPSYNC_GRAPHQL_URL", "")
    redis_url: str = _setting("REDIS_URL", "")
    redis_cluster_endpoint: str = _setting("REDIS_CLUSTER_ENDPOINT", "")
    ssm_prefix: str = _setting("FLIGHTDATA_SSM_PREFIX", "")
    http_timeout_s: float = _setting("FLIGHTDATA_HTTP_TIMEOUT", 20.0, _positive(float))
    cors_origins: tuple[str, ...] = _setting("CORS_ORIGINS", (), _csv)
    graphiql: bool = _setting("FLIGHTDATA_GRAPHIQL", True, _bool)
    # permessage-deflate on WebSocket messages: about 5x less traffic for subscribers, but
    # compressing every batch for every subscriber is the largest CPU cost of the fan-out.
    ws_compression: bool = _setting("FLIGHTDATA_WS_COMPRESSION", False, _bool)
    # Seconds between the server's keepalive pings on each WebSocket (a peer that does
    # not answer within 20 s more is dropped). Every connection gets a batch every cycle,
    # so pings only find dead peers; at uvicorn's 20 s they cost 761 µs against 669 µs of
    # API CPU a subscriber-cycle at 60 s (``python -m bench.subscriptions 1000``).
    ws_ping_interval_s: float = _setting("FLIGHTDATA_WS_PING_INTERVAL", 60.0, _positive(float))
    # Seconds an idle HTTP/1.1 connection is kept open. Longer than clients keep idle
    # connections for reuse (httpx: 5 s) and than load balancers' idle timeouts (AWS ALB:
    # 60 s), so that they close first: at uvicorn's 5 s, a client's request sent on a
    # connection idle for about 5 s met the server's close (``httpx.ReadError``).
    keep_alive_s: int = _setting("FLIGHTDATA_KEEP_ALIVE", 75, _positive(int))
    # API security (package ``security``). FLIGHTDATA_SECURITY=false drops API keys and
    # rate limits (behind a gateway that does both); the other limits stay.
    security: bool = _setting("FLIGHTDATA_SECURITY", True, _bool)
    anonymous: bool = _setting("FLIGHTDATA_ANONYMOUS", True, _bool)
    api_key_days: float = _setting("FLIGHTDATA_API_KEY_DAYS", 90.0, _positive(float))
    # Quota tiers, name=RATE:BURST (requests per second, bucket size); "anonymous" is
    # the tier of clients without a key, "standard" the default of new keys.
    rate_tiers: tuple[tuple[str, float, int], ...] = _setting(
        "FLIGHTDATA_RATE_TIERS", _tiers("anonymous=5:100,standard=50:500,partner=500:5000"), _tiers
    )
    max_body_bytes: int = _setting("FLIGHTDATA_MAX_BODY_BYTES", 65536, _positive(int))
    max_query_depth: int = _setting("FLIGHTDATA_MAX_QUERY_DEPTH", 12, _positive(int))
    max_query_aliases: int = _setting("FLIGHTDATA_MAX_QUERY_ALIASES", 20, _positive(int))
    max_query_tokens: int = _setting("FLIGHTDATA_MAX_QUERY_TOKENS", 2000, _positive(int))
    max_query_cost: int = _setting("FLIGHTDATA_MAX_QUERY_COST", 250_000, _positive(int))
    introspection: bool = _setting("FLIGHTDATA_INTROSPECTION", True, _bool)
    cache_max_age_s: int = _setting("FLIGHTDATA_CACHE_MAX_AGE", 60, _positive(int))
    log_level: str = _setting("LOG_LEVEL", "INFO")
    # Observability (package ``observability``): LOG_FORMAT auto (text on a terminal, JSON
    # elsewhere and on Lambda), json or text; /readyz wants the
    # newest state younger than FLIGHTDATA_READY_MAX_AGE; EMF metrics on Lambda go to
    # FLIGHTDATA_METRICS_NAMESPACE; FLIGHTDATA_XRAY patches the SDKs for X-Ray.
    log_format: str = _setting("LOG_FORMAT", "auto", _one_of("auto", "json", "text"))
    ready_max_age_s: float = _setting("FLIGHTDATA_READY_MAX_AGE", 120.0, _positive(float))
    metrics_namespace: str = _setting("FLIGHTDATA_METRICS_NAMESPACE", "FlightData")
    xray: bool = _setting("FLIGHTDATA_XRAY", False, _bool)
    # The site that /data/receiver.json names (tar1090 centres its map there); without
    # one, the middle of the live traffic.
    site_lat: float | None = _setting("FLIGHTDATA_SITE_LAT", None, _degrees(90))
    site_lon: float | None = _setting("FLIGHTDATA_SITE_LON", None, _degrees(180))
    # The dashboard (api.dashboard): the built app that / serves (`make dashboard`), and
    # the online map tiles it adds over its offline basemap, with their attribution
    # (e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png); empty: offline only.
    dashboard_dir: Path = _setting("FLIGHTDATA_DASHBOARD_DIR", DASHBOARD_DIST, Path)
    tile_url: str = _setting("FLIGHTDATA_TILE_URL", "", _tile_url)
    tile_attribution: str = _setting("FLIGHTDATA_TILE_ATTRIBUTION", "")
    # Where clients subscribe when it is not this host's ws(s)://.../graphql (on AWS the
    # stack's real-time endpoint): config.json's subscriptionUrl and GraphiQL's.
    subscription_url: str = _setting("FLIGHTDATA_SUBSCRIPTION_URL", "", _ws_url)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``environ`` (default ``os.environ``); ``overrides`` win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = env.get(name)
            if raw is None or raw == "":
                continue
            try:
                values[f.name] = f.metadata["convert"](raw)
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        tiers = {name for name, _, _ in self.rate_tiers}
        if not {"anonymous", "standard"} <= tiers:
            raise ConfigError(
                "FLIGHTDATA_RATE_TIERS: needs an 'anonymous' and a 'standard' tier, "
                f"got {sorted(tiers)}"
            )
        if (self.site_lat is None) != (self.site_lon is None):
            raise ConfigError("FLIGHTDATA_SITE_LAT, FLIGHTDATA_SITE_LON: set both or neither")
        if self.backend not in {"embedded", "aws"}:
            raise ConfigError(
                f"FLIGHTDATA_BACKEND: unknown backend {self.backend!r} (expected embedded or aws)"
            )
        if self.backend == "aws":
            missing = [
                f.metadata["env"]
                for f in fields(self)
                if f.name in _REQUIRED_FOR_AWS and not getattr(self, f.name)
            ]
            if missing:
                raise ConfigError(
                    f"{', '.join(missing)}: required when FLIGHTDATA_BACKEND=aws, but not set"
                )

    @property
    def database_path(self) -> Path:
        return self.data_dir / "flightdata.sqlite3"
