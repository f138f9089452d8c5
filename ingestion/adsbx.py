"""The ADS-B Exchange v2 family (adsb.lol, airplanes.live, adsb.fi, ADSBx): fetch and normalise.

``fetch_aircraft`` only does HTTP; ``normalise_v2`` and ``aircraft_fields`` are pure. The
per-aircraft mapping is shared with readsb / dump1090-fa ``aircraft.json``
(``ingestion.receiver``), which uses the same field names.

Envelope (readsb ``jv2`` output)::

    {"ac": [...], "msg": "No error", "now": <ms>, "total": N, "ctime": <ms>, "ptime": <ms>}

=========  =====================================================================
key        meaning
=========  =====================================================================
ac         list of aircraft objects (some mirrors call it ``aircraft``; null = [])
now        unix time of the snapshot, **milliseconds** (a value below 1e11 is
           taken as seconds: a mirror sending ``aircraft`` may use seconds)
msg        "No error" or an error text; total, ctime, ptime: not read
=========  =====================================================================

Aircraft object: keys are *omitted* when there is no data. The fields read:

=============  =======================================  ===============================
key            raw type and unit                        canonical field
=============  =======================================  ===============================
hex            str, 6 hex digits; ``~`` = non-ICAO      icao24 (``~`` kept), non_icao
flight         str, padded to 8 characters              callsign (trimmed, blank→None)
alt_baro       int ft, or the string ``"ground"``       baro_altitude_m x0.3048;
                                                        "ground" → on_ground, None
alt_geom       int ft, WGS-84                           geo_altitude_m x0.3048
gs             float kt over ground                     velocity_mps x1852/3600
track          float deg true; else ``calc_track``      true_track_deg
baro_rate      int ft/min; else ``geom_rate``           vertical_rate_mps x0.00508
squawk         str, 4 octal digits                      squawk
category       str A0..C5 (emitter category)            category, OpenSky's 0-20 codes
spi            0 / 1                                    spi
lat, lon       float deg WGS-84                         latitude, longitude
seen_pos       float s before ``now``                   time_position = now - seen_pos
lastPosition   {lat, lon, seen_pos}, sent instead of    latitude, longitude,
               lat/lon when the position is > 60 s old  time_position
seen           float s before ``now`` (last message)    last_contact = now - seen
type           str, the *message source*                position_source
mlat, tisb     lists of the fields derived from MLAT    position_source when ``type``
               or TIS-B                                 is absent (dump1090-fa 3.x)
=============  =======================================  ===============================

Rules worth knowing:

- ``calc_track`` (readsb's track from successive positions) is used only when ``track``
  is absent; ``geom_rate`` only when ``baro_rate`` is absent.
- A position without ``seen_pos`` gets no ``time_position``: the state's time falls back
  to ``last_contact``. Without ``seen``, ``last_contact`` is ``now``.
- ``type`` → position source: ``mlat`` → MLAT; ``adsb_*``, ``adsr_*``, ``adsc`` → ADS-B;
  ``tisb_*``, ``mode_s``, ``other`` and anything unknown → None. Without ``type``, a
  position listed in ``mlat`` is MLAT, one listed in ``tisb`` is None, any other is ADS-B.
- Emitter category → OpenSky code: A0, B0, C0 → 1 (no category information); A1..A7 →
  2..8; B1..B7 → 9..15; C1..C5 → 16..20; anything else → None.
- A value of the wrong type (``"gs": "fast"``) goes through unchanged, so validation
  rejects the record with a reason instead of the normaliser guessing.
- ``origin_country`` is left None: enrichment derives it from the address.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from domain import PositionSource, Source
from domain.units import FPM_TO_MPS, FT_TO_M, KT_TO_MPS
from ingestion.batch import Candidate, Normalised, Reject
from ingestion.errors import UpstreamError

RAPIDAPI_HOST = "adsbexchange-com1.p.rapidapi.com"
# Unix time 1e11 is the year 5138 in seconds but 1973 in milliseconds.
_MS_THRESHOLD = 1e11

_CATEGORY: dict[str, int] = {
    "A0": 1,
    "B0": 1,
    "C0": 1,
    **{f"A{i}": 1 + i for i in range(1, 8)},
    **{f"B{i}": 8 + i for i in range(1, 8)},
    **{f"C{i}": 15 + i for i in range(1, 6)},
}
_SOURCE_BY_TYPE: dict[str, PositionSource | None] = {
    "adsb_icao": PositionSource.ADSB,
    "adsb_icao_nt": PositionSource.ADSB,
    "adsb_other": PositionSource.ADSB,
    "adsr_icao": PositionSource.ADSB,
    "adsr_other": PositionSource.ADSB,
    "adsc": PositionSource.ADSB,
    "mlat": PositionSource.MLAT,
    "tisb_icao": None,
    "tisb_other": None,
    "tisb_trackfile": None,
    "mode_s": None,
    "other": None,
}

AircraftMapper = Callable[[dict[str, Any], float, Source], dict[str, Any]]


async def fetch_aircraft(client: httpx.AsyncClient, url: str, headers: Mapping[str, str]) -> bytes:
    """The raw body of ``GET url``.

    ``UpstreamError`` when the request fails (transient: timeouts, refused connections, a
    corrupt gzip body) or the answer is not HTTP 200 (``status`` set; transient if 5xx).
    """
    try:
        response = await client.get(url, headers=dict(headers))
    except httpx.RequestError as exc:
        raise UpstreamError(f"GET {url} failed: {exc!r}", transient=True) from exc
    status = response.status_code
    if status != 200:
        raise UpstreamError(
            f"GET {url} answered HTTP {status}", status=status, transient=status >= 500
        )
    return response.content


def build_url(base_url: str, path: str, **params: Any) -> str:
    """``base_url`` joined to ``path`` with its ``{name}`` placeholders filled from ``params``.

    ``build_url("https://api.adsb.lol", "/v2/point/{lat}/{lon}/{radius}", lat=51.5,
    lon=-0.1, radius=50)`` is ``https://api.adsb.lol/v2/point/51.5/-0.1/50``. Values are
    percent-encoded; a format spec (``{lat:.3f}``) is honoured; unused params are ignored
    (a ``/v2/all`` path needs none). A missing or None value raises ``ValueError``.
    """
    parts: list[str] = []
    for literal, name, spec, _conversion in string.Formatter().parse(path):
        parts.append(literal)
        if name is None:
            continue
        value = params.get(name)
        if value is None:
            raise ValueError(f"URL path {path!r} needs a value for {{{name}}}")
        parts.append(quote(format(value, spec or ""), safe=""))
    return f"{base_url.rstrip('/')}/{''.join(parts).lstrip('/')}"


def auth_headers(style: str | None, key: str | None, host: str | None = None) -> dict[str, str]:
    """Request headers for an API key sent in ``style``.

    ``api-auth`` (ADSBx legacy feeder API), ``x-api-key`` (ADSBx enterprise gateway),
    ``rapidapi`` (``X-RapidAPI-Key`` plus ``X-RapidAPI-Host``, default ADSBx's host), or
    None / ``""`` / ``none`` for the keyless APIs (adsb.lol, airplanes.live, adsb.fi).
    """
    if style is None or style.strip().lower() in {"", "none"}:
        return {}
    style = style.strip().lower()
    if style not in {"api-auth", "x-api-key", "rapidapi"}:
        raise ValueError(f"unknown auth style {style!r} (expected api-auth, x-api-key, rapidapi)")
    if not key:
        raise ValueError(f"auth style {style!r} needs an API key")
    if style == "rapidapi":
        return {"X-RapidAPI-Key": key, "X-RapidAPI-Host": host or RAPIDAPI_HOST}
    return {style: key}


def epoch_seconds(value: Any) -> float:
    """A snapshot's ``now`` as unix seconds, whether it was sent in seconds or milliseconds."""
    if type(value) is int or type(value) is float:
        seconds = value / 1000.0 if value >= _MS_THRESHOLD else float(value)
        if 0 < seconds < _MS_THRESHOLD:  # also refuses NaN and infinity
            return seconds
    raise UpstreamError(f"'now' is not a unix time: {value!r}")


def aircraft_fields(ac: dict[str, Any], now_s: float, source: Source) -> dict[str, Any]:
    """One aircraft object (with a ``hex``) as canonical ``FlightState`` fields; pure."""
    code = ac["hex"]
    alt_baro = ac.get("alt_baro")
    on_ground = alt_baro == "ground"
    track = ac.get("track")
    rate = ac.get("baro_rate")
    seen = ac.get("seen")
    latitude, longitude, seen_pos = _position(ac)
    return {
        "icao24": code,
        "non_icao": isinstance(code, str) and code.lstrip().startswith("~"),
        "callsign": _trimmed(ac.get("flight")),
        "origin_country": None,
        "time_position": _before(now_s, seen_pos) if latitude is not None else None,
        "last_contact": _before(now_s, seen if seen is not None else 0.0),
        "latitude": latitude,
        "longitude": longitude,
        "baro_altitude_m": None if on_ground else _scaled(alt_baro, FT_TO_M),
        "geo_altitude_m": _scaled(ac.get("alt_geom"), FT_TO_M),
        "on_ground": on_ground,
        "velocity_mps": _scaled(ac.get("gs"), KT_TO_MPS),
        "true_track_deg": track if track is not None else ac.get("calc_track"),
        "vertical_rate_mps": _scaled(rate if rate is not None else ac.get("geom_rate"), FPM_TO_MPS),
        "squawk": ac.get("squawk"),
        "spi": ac.get("spi") == 1,
        "position_source": _position_source(ac, has_position=latitude is not None),
        "category": _category(ac.get("category")),
        "source": source,
    }


def normalise_aircraft(
    rows: list[Any], now_s: float, source: Source, mapper: AircraftMapper = aircraft_fields
) -> tuple[list[Candidate], list[Reject]]:
    """Each aircraft object through ``mapper``; one that is not an object with a hex is a
    ``malformed_row`` reject. ``raw`` is the object as received."""
    candidates: list[Candidate] = []
    rejects: list[Reject] = []
    for ac in rows:
        if not isinstance(ac, dict) or ac.get("hex") is None:
            rejects.append(Reject("malformed_row", "expected an aircraft object with a hex", ac))
            continue
        candidates.append(Candidate(mapper(ac, now_s, source), ac))
    return candidates, rejects


def normalise_v2(payload: Any, source: Source = Source.ADSBX) -> Normalised:
    """Map a v2 response (``{ac, now ms, ...}``) to candidate records for validation."""
    if not isinstance(payload, dict):
        raise UpstreamError(f"not an ADS-B v2 response: a {type(payload).__name__}")
    key = "ac" if "ac" in payload else "aircraft"
    if key not in payload:
        raise UpstreamError("not an ADS-B v2 response: no 'ac' or 'aircraft' key")
    rows = payload[key] or []
    if not isinstance(rows, list):
        raise UpstreamError(f"not an ADS-B v2 response: {key!r} is not a list")
    now_s = epoch_seconds(payload.get("now"))
    candidates, rejects = normalise_aircraft(rows, now_s, source)
    return Normalised(candidates, rejects, datetime.fromtimestamp(now_s, UTC))


class AdsbxSource:
    """A v2-family API polled at one URL. Holds no mutable state: safe to share."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        name: str = "adsbx",
        *,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self._client = client
        self._headers = dict(headers)
        self.url = build_url(base_url, path, **(params or {}))
        self.name = name

    async def fetch(self) -> bytes:
        """The raw body, archived as received; the caller parses it for ``normalise``."""
        return await fetch_aircraft(self._client, self.url, self._headers)

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_v2(payload, Source.ADSBX)


def _position(ac: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Latitude, longitude and seconds since the position; ``lastPosition`` if that is all."""
    latitude, longitude = ac.get("lat"), ac.get("lon")
    if latitude is not None and longitude is not None:
        return latitude, longitude, ac.get("seen_pos")
    last = ac.get("lastPosition")
    if isinstance(last, dict) and last.get("lat") is not None and last.get("lon") is not None:
        return last["lat"], last["lon"], last.get("seen_pos")
    return None, None, None


def _position_source(ac: dict[str, Any], *, has_position: bool) -> PositionSource | None:
    kind = ac.get("type")
    if isinstance(kind, str):
        if kind in _SOURCE_BY_TYPE:
            return _SOURCE_BY_TYPE[kind]
        # A message source newer than this table: judge it by its family.
        return PositionSource.ADSB if kind.startswith(("adsb_", "adsr_")) else None
    if kind is not None or not has_position:
        return None
    if _lists_lat(ac.get("mlat")):
        return PositionSource.MLAT
    return None if _lists_lat(ac.get("tisb")) else PositionSource.ADSB


def _lists_lat(derived: Any) -> bool:
    return isinstance(derived, list) and "lat" in derived


def _category(code: Any) -> int | None:
    # Guarded: a list or dict here must not make the lookup raise and fail the batch.
    return _CATEGORY.get(code) if isinstance(code, str) else None


def _before(now_s: float, seconds: Any) -> Any:
    """The time ``seconds`` before ``now_s``; anything else goes through for validation."""
    if type(seconds) is float or type(seconds) is int:
        try:
            return datetime.fromtimestamp(now_s - seconds, UTC)
        except (OverflowError, ValueError, OSError):  # NaN, or beyond datetime's years
            return seconds
    return seconds


def _scaled(value: Any, factor: float) -> Any:
    if type(value) is int or type(value) is float:
        return value * factor
    return value


def _trimmed(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value
