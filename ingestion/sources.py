"""Sources by name: what ``--source`` / ``FLIGHTDATA_SOURCE`` selects.

A source has a ``name``, an async ``fetch()`` returning the raw body exactly as received
(it is archived before anything parses it), and a pure ``normalise(payload)`` mapping the
parsed body to candidate records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from config import ConfigError, Settings
from domain.events import EventBus
from ingestion.adsbx import AdsbxSource, auth_headers
from ingestion.batch import Normalised
from ingestion.detect import normalise_any
from ingestion.errors import UpstreamError
from ingestion.opensky import OpenSkySource
from ingestion.receiver import ReceiverSource
from ingestion.replay import ReplaySource


class FlightSource(Protocol):
    name: str

    async def fetch(self) -> bytes: ...

    def normalise(self, payload: Any) -> Normalised: ...


def parse_json(body: bytes) -> Any:
    """The parsed body; a body that is not JSON (an HTML error page, a truncated
    response) is a transient upstream error."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"response is not JSON: {exc}", transient=True) from exc


class FileSource:
    """A recorded response read from a file: OpenSky ``states/all``, an ADS-B v2 response
    or a readsb ``aircraft.json``, told apart by their layout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    async def fetch(self) -> bytes:
        try:
            return self.path.read_bytes()
        except OSError as exc:
            raise UpstreamError(f"cannot read {self.path}: {exc.strerror}") from exc

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_any(payload)


def build_source(
    spec: str, settings: Settings, client: httpx.AsyncClient, events: EventBus | None = None
) -> FlightSource:
    if spec == "replay":
        return ReplaySource()
    if spec == "opensky":
        return OpenSkySource.from_settings(settings, client, events)
    if spec == "adsbx":
        return _adsbx(settings, client)
    if spec == "receiver":
        return ReceiverSource(client, settings.receiver_url)
    if spec.startswith("file:"):
        return FileSource(Path(spec.removeprefix("file:")))
    raise ConfigError(
        f"FLIGHTDATA_SOURCE: unknown source {spec!r} "
        "(expected replay, opensky, adsbx, receiver or file:PATH)"
    )


def _adsbx(settings: Settings, client: httpx.AsyncClient) -> AdsbxSource:
    try:
        headers = auth_headers(
            settings.adsbx_auth_style, settings.adsbx_api_key, settings.adsbx_rapidapi_host or None
        )
    except ValueError as exc:
        raise ConfigError(f"ADSBX_AUTH_STYLE/ADSBX_API_KEY: {exc}") from exc
    params = {
        "lat": settings.adsbx_lat,
        "lon": settings.adsbx_lon,
        "radius": settings.adsbx_radius_nm,
    }
    try:
        return AdsbxSource(
            client, settings.adsbx_api_url, settings.adsbx_path, headers, params=params
        )
    except ValueError as exc:
        raise ConfigError(f"ADSBX_PATH/ADSBX_LAT/ADSBX_LON/ADSBX_RADIUS_NM: {exc}") from exc
