"""Sources by name: what ``--source`` / ``FLIGHTDATA_SOURCE`` selects.

A source has a ``name``, an async ``fetch()`` returning the parsed payload, and a pure
``normalise(payload)`` mapping it to candidate records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import httpx
import orjson

from config import ConfigError, Settings
from domain import Source
from ingestion.batch import Normalised
from ingestion.opensky import UpstreamError, fetch_states, normalise_states
from ingestion.replay import ReplaySource


class FlightSource(Protocol):
    name: str

    async def fetch(self) -> Any: ...

    def normalise(self, payload: Any) -> Normalised: ...


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError(f"response is not JSON: {exc}") from exc


class OpenSkySource:
    name = "opensky"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url

    async def fetch(self) -> Any:
        return parse_json(await fetch_states(self._client, self._base_url))

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_states(payload, Source.OPENSKY)


class FileSource:
    """A recorded OpenSky ``states/all`` response read from a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"file:{path}"

    async def fetch(self) -> Any:
        try:
            body = self.path.read_bytes()
        except OSError as exc:
            raise UpstreamError(f"cannot read {self.path}: {exc.strerror}") from exc
        return parse_json(body)

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_states(payload, Source.OPENSKY)


def build_source(spec: str, settings: Settings, client: httpx.AsyncClient) -> FlightSource:
    if spec == "replay":
        return ReplaySource()
    if spec == "opensky":
        return OpenSkySource(client, settings.opensky_api_url)
    if spec.startswith("file:"):
        return FileSource(Path(spec.removeprefix("file:")))
    raise ConfigError(
        f"FLIGHTDATA_SOURCE: unknown source {spec!r} (expected replay, opensky or file:PATH)"
    )
