"""OpenSky Network ``GET /states/all``: fetch (HTTP only) and normalise (pure).

Response layout: ``{"time": int, "states": [[...], ...] | null}``. Each state vector is
a list of 17 elements, or 18 with ``extended=1``:

====  ===============  ===========================================
idx   field            type and unit
====  ===============  ===========================================
0     icao24           str, 6 hex digits
1     callsign         str | null, padded to 8 characters
2     origin_country   str
3     time_position    int | null, unix seconds
4     last_contact     int, unix seconds
5     longitude        float | null, degrees
6     latitude         float | null, degrees
7     baro_altitude    float | null, metres
8     on_ground        bool
9     velocity         float | null, m/s over ground
10    true_track       float | null, degrees clockwise from north
11    vertical_rate    float | null, m/s, positive climbing
12    sensors          int[] | null
13    geo_altitude     float | null, metres
14    squawk           str | null
15    spi              bool
16    position_source  int, 0 ADS-B, 1 ASTERIX, 2 MLAT, 3 FLARM
17    category         int, 0-20 (only with extended=1)
====  ===============  ===========================================
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NoReturn

import httpx

from config import ConfigError
from domain import Source
from domain.events import EventBus, RateLimitExceeded
from ingestion.batch import Candidate, Normalised, Reject
from ingestion.errors import UpstreamError
from ingestion.opensky_auth import DEFAULT_AUTH_URL, Clock, TokenManager

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://opensky-network.org/api"
REMAINING_HEADER = "X-Rate-Limit-Remaining"
RETRY_AFTER_HEADER = "X-Rate-Limit-Retry-After-Seconds"
# pyopensky warns at the same level: about a day's worth of anonymous global polls.
LOW_CREDITS = 100
# (largest bbox area in square degrees, credits) per OpenSky's rules; larger or global: 4.
_CREDIT_TIERS = ((25.0, 1), (100.0, 2), (400.0, 3))
_GLOBAL_COST = 4
_ICAO24 = re.compile(r"[0-9a-f]{6}")

BBox = tuple[float, float, float, float]
Sleep = Callable[[float], Awaitable[None]]
AuthKind = Literal["oauth", "basic", "anonymous"]


@dataclass(frozen=True, slots=True)
class OpenSkyConfig:
    """What to ask OpenSky for and how to authenticate; secrets stay out of the repr.

    ``bbox`` is ``(lamin, lomin, lamax, lomax)`` in degrees. Client credentials win over
    a username and password; with neither, requests are anonymous.
    """

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    auth_url: str = DEFAULT_AUTH_URL
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    bbox: BBox | None = None
    icao24: tuple[str, ...] = ()
    extended: bool = True
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if bool(self.client_id) != bool(self.client_secret):
            raise ValueError("OPENSKY_CLIENT_ID and OPENSKY_CLIENT_SECRET must be set together")
        if bool(self.username) != bool(self.password):
            raise ValueError("OPENSKY_USERNAME and OPENSKY_PASSWORD must be set together")
        if self.bbox is not None:
            _check_bbox(self.bbox)
        bad = [code for code in self.icao24 if not _ICAO24.fullmatch(code)]
        if bad:
            raise ValueError(f"OPENSKY_ICAO24: expected 6 lowercase hex digits, got {bad!r}")
        if not self.max_retry_after_s >= 0:  # also rejects NaN
            raise ValueError("OPENSKY_MAX_RETRY_AFTER must be 0 or more seconds")

    @property
    def auth(self) -> AuthKind:
        if self.client_id and self.client_secret:
            return "oauth"
        if self.username and self.password:
            return "basic"
        return "anonymous"


def _check_bbox(bbox: BBox) -> None:
    lamin, lomin, lamax, lomax = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise ValueError(f"OPENSKY_BBOX: not finite: {bbox!r}")
    if not -90 <= lamin <= lamax <= 90 or not -180 <= lomin <= lomax <= 180:
        raise ValueError(
            f"OPENSKY_BBOX: expected lamin<=lamax within ±90 and lomin<=lomax within ±180, "
            f"got {bbox!r}"
        )


def credits_cost(bbox: BBox | None) -> int:
    """Credits one ``/states/all`` call costs, from the bbox area in square degrees."""
    if bbox is None:
        return _GLOBAL_COST
    lamin, lomin, lamax, lomax = bbox
    area = (lamax - lamin) * (lomax - lomin)
    return next((cost for limit, cost in _CREDIT_TIERS if area <= limit), _GLOBAL_COST)


def states_params(config: OpenSkyConfig) -> tuple[tuple[str, str | float], ...]:
    """Query parameters: all four bbox edges or none, one ``icao24`` per address."""
    params: list[tuple[str, str | float]] = []
    if config.bbox is not None:
        params.extend(zip(("lamin", "lomin", "lamax", "lomax"), config.bbox, strict=True))
    params.extend(("icao24", code) for code in config.icao24)
    if config.extended:
        params.append(("extended", "1"))
    return tuple(params)


class OpenSkyClient:
    """``GET {base_url}/states/all``: authentication, credit accounting, bounded 429 wait.

    HTTP only: the body is returned exactly as received, whatever its content type, and
    parsing is left to the pipeline (which archives it first). Failures are
    ``UpstreamError``: timeouts, connection errors and 5xx are transient; a 429 is not
    (the client has already waited as long as it is allowed to).

    ``credits_used`` counts the credits of successful calls; ``credits_remaining`` is
    the last ``X-Rate-Limit-Remaining`` seen (``None`` before any). Not thread-safe; use
    one instance per event loop.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str = DEFAULT_API_URL,
        config: OpenSkyConfig | None = None,
        *,
        events: EventBus | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.config = config or OpenSkyConfig()
        self.url = f"{base_url.rstrip('/')}/states/all"
        self._client = client
        self._events = events
        self._sleep = sleep
        self._params = states_params(self.config)
        self.tokens = self._token_manager(client, clock)
        self._basic = self._basic_auth()
        self.credits_cost = credits_cost(self.config.bbox)
        self.credits_used = 0
        self.credits_remaining: int | None = None

    def _token_manager(self, client: httpx.AsyncClient, clock: Clock) -> TokenManager | None:
        client_id, secret = self.config.client_id, self.config.client_secret
        if not (client_id and secret):
            return None
        return TokenManager(client, client_id, secret, auth_url=self.config.auth_url, clock=clock)

    def _basic_auth(self) -> httpx.BasicAuth | None:
        username, password = self.config.username, self.config.password
        if self.tokens is not None or not (username and password):
            return None
        log.warning(
            "OpenSky: using basic auth, which OpenSky removed on 2026-03-18; "
            "set OPENSKY_CLIENT_ID and OPENSKY_CLIENT_SECRET instead"
        )
        return httpx.BasicAuth(username, password)

    async def states(self) -> bytes:
        """The raw body of one ``states/all`` call; ``UpstreamError`` on any failure."""
        response = await self._get()
        if response.status_code == 401 and self.tokens is not None:
            # Tokens can die before their stated expiry (revoked, server restarted):
            # one fresh token and one retry, never a loop.
            self.tokens.invalidate()
            response = await self._get()
        self._account(response)
        if response.status_code == 429:
            await self._back_off(response)
        if response.status_code != 200:
            raise self._http_error(response.status_code)
        return response.content

    async def _get(self) -> httpx.Response:
        headers = {}
        if self.tokens is not None:
            headers["Authorization"] = f"Bearer {await self.tokens.token()}"
        try:
            return await self._client.get(
                self.url, params=self._params, headers=headers, auth=self._basic
            )
        except httpx.TimeoutException as exc:
            raise UpstreamError(f"OpenSky timed out: {exc!r}", transient=True) from exc
        except httpx.UnsupportedProtocol as exc:
            raise UpstreamError(f"OpenSky URL is unusable: {exc}", transient=False) from exc
        except httpx.RequestError as exc:
            raise UpstreamError(f"OpenSky unreachable: {exc!r}", transient=True) from exc

    def _account(self, response: httpx.Response) -> None:
        remaining = _header_number(response, REMAINING_HEADER)
        if remaining is not None:
            self.credits_remaining = int(remaining)
            if self.credits_remaining < LOW_CREDITS:
                log.warning("OpenSky: %d API credits remaining", self.credits_remaining)
        if response.status_code == 200:
            self.credits_used += self.credits_cost

    async def _back_off(self, response: httpx.Response) -> NoReturn:
        retry_after = _header_number(response, RETRY_AFTER_HEADER)
        if self._events is not None:
            self._events.publish(
                RateLimitExceeded(
                    source="opensky", retry_after_s=retry_after, remaining=self.credits_remaining
                )
            )
        # Quotas reset daily, so the header can say hours; wait at most the configured
        # bound and let the ingest loop try again at its next cycle.
        wait = min(retry_after or 0.0, self.config.max_retry_after_s)
        if wait > 0:
            await self._sleep(wait)
        told = "no retry header" if retry_after is None else f"retry after {retry_after:g} s"
        raise UpstreamError(
            f"OpenSky rate limit (HTTP 429, {told}); waited {wait:g} s",
            status=429,
            transient=False,
        )

    def _http_error(self, status: int) -> UpstreamError:
        message = f"OpenSky answered HTTP {status}"
        if status == 401 and self.tokens is not None:
            message += ": a freshly issued bearer token was refused"
        elif status == 401 and self._basic is not None:
            message += (
                ": username/password refused (basic auth was removed on 2026-03-18; "
                "use OPENSKY_CLIENT_ID and OPENSKY_CLIENT_SECRET)"
            )
        return UpstreamError(message, status=status, transient=status >= 500)


def _header_number(response: httpx.Response, name: str) -> float | None:
    """A finite, non-negative number from a header, or ``None`` when absent or garbled."""
    raw = response.headers.get(name)
    try:
        value = float(raw) if raw is not None else math.nan
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


class OpenSkySource:
    """OpenSky as a ``FlightSource``: ``fetch`` is one ``states/all`` call."""

    name = "opensky"

    def __init__(self, client: OpenSkyClient) -> None:
        self.client = client

    @classmethod
    def from_settings(
        cls, settings: object, client: httpx.AsyncClient, events: EventBus | None = None
    ) -> OpenSkySource:
        """The source the ``OPENSKY_*`` settings describe; ``ConfigError`` names a bad one."""
        url = _text(settings, "opensky_api_url") or DEFAULT_API_URL
        return cls(OpenSkyClient(client, url, config_from_settings(settings), events=events))

    async def fetch(self) -> bytes:
        return await self.client.states()

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_states(payload, Source.OPENSKY)


def config_from_settings(settings: object) -> OpenSkyConfig:
    """An ``OpenSkyConfig`` from settings fields, absent fields taking their defaults.

    Fields are read with ``getattr`` so this works whether or not ``Settings`` declares
    them yet; ``opensky_bbox`` and ``opensky_icao24`` may be strings or sequences.
    """
    try:
        return OpenSkyConfig(
            client_id=_text(settings, "opensky_client_id"),
            client_secret=_text(settings, "opensky_client_secret"),
            auth_url=_text(settings, "opensky_auth_url") or DEFAULT_AUTH_URL,
            username=_text(settings, "opensky_username"),
            password=_text(settings, "opensky_password"),
            bbox=_bbox(getattr(settings, "opensky_bbox", None)),
            icao24=_codes(getattr(settings, "opensky_icao24", ())),
            max_retry_after_s=float(getattr(settings, "opensky_max_retry_after_s", 300.0)),
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from exc


def _text(settings: object, name: str) -> str | None:
    value = getattr(settings, name, None)
    if value is None:
        return None
    return str(value).strip() or None


def _bbox(value: object) -> BBox | None:
    if value is None or value in ("", ()):
        return None
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, Sequence) or len(parts) != 4:
        raise ValueError(f"OPENSKY_BBOX: expected lamin,lomin,lamax,lomax, got {value!r}")
    try:
        lamin, lomin, lamax, lomax = (float(p) for p in parts)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"OPENSKY_BBOX: expected four numbers, got {value!r}") from exc
    return (lamin, lomin, lamax, lomax)


def _codes(value: object) -> tuple[str, ...]:
    parts = value.split(",") if isinstance(value, str) else value
    if not isinstance(parts, Sequence):
        raise ValueError(f"OPENSKY_ICAO24: expected comma-separated addresses, got {value!r}")
    return tuple(str(p).strip().lower() for p in parts if str(p).strip())


def normalise_states(payload: Any, source: Source = Source.OPENSKY) -> Normalised:
    """Map an OpenSky response to candidate records for validation.

    A row that is not a list of at least 17 elements becomes a reject; everything else
    is left to the model's validation.
    """
    if not isinstance(payload, dict) or "states" not in payload:
        raise UpstreamError("not an OpenSky states response: no 'states' key")
    rows = payload["states"] or []
    if not isinstance(rows, list):
        raise UpstreamError("not an OpenSky states response: 'states' is not a list")
    candidates: list[Candidate] = []
    rejects: list[Reject] = []
    for row in rows:
        if not isinstance(row, list) or len(row) < 17:
            rejects.append(Reject("malformed_row", "expected a list of 17 or 18 elements", row))
            continue
        fields = {
            "icao24": row[0],
            "callsign": row[1],
            "origin_country": row[2],
            "time_position": row[3],
            "last_contact": row[4],
            "longitude": row[5],
            "latitude": row[6],
            "baro_altitude_m": row[7],
            "on_ground": row[8],
            "velocity_mps": row[9],
            "true_track_deg": row[10],
            "vertical_rate_mps": row[11],
            "geo_altitude_m": row[13],
            "squawk": row[14],
            "spi": row[15],
            "position_source": row[16],
            "category": row[17] if len(row) > 17 else None,
            "source": source,
        }
        candidates.append(Candidate(fields, row))
    observed = payload.get("time")
    return Normalised(candidates, rejects, _snapshot_time(observed))


def _snapshot_time(value: Any) -> datetime | None:
    """``time`` as a datetime; ``None`` when it is missing or no date at all (inf, 1e20)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
