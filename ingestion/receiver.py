"""A local receiver's ``aircraft.json`` (readsb, dump1090-fa, dump1090): read and normalise.

The decoder rewrites the file about once a second, atomically (temp file, then rename), so
reading it never sees half a file. Layout::

    {"now": <unix s, float>, "messages": <Mode S messages since start>, "aircraft": [...]}

==========  ==============================================================
key         meaning
==========  ==============================================================
now         unix time of the snapshot, **seconds** (float)
aircraft    list of aircraft objects
messages    total messages decoded since the receiver started; not read
==========  ==============================================================

Aircraft objects use the v2 field names and units documented in ``ingestion.adsbx``
(``hex``, ``flight``, ``alt_baro``, ``alt_geom``, ``gs``, ``track``, ``baro_rate``, ``lat``,
``lon``, ``seen_pos``, ``seen``, ...). dump1090-fa 3.x sends no ``type``, so the position
source comes from its ``mlat`` / ``tisb`` lists. Older dump1090 builds use legacy names,
read only when the current name is absent:

==========  ===========================  ==============
legacy key  raw type and unit            current key
==========  ===========================  ==============
altitude    int ft, or ``"ground"``      alt_baro
speed       float kt over ground         gs
vert_rate   int ft/min                   baro_rate
==========  ===========================  ==============
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from domain import Source
from ingestion.adsbx import (
    aircraft_fields,
    epoch_seconds,
    fetch_aircraft,
    normalise_aircraft,
)
from ingestion.batch import Normalised
from ingestion.errors import UpstreamError
from storage.offload import offload

_LEGACY = (("altitude", "alt_baro"), ("speed", "gs"), ("vert_rate", "baro_rate"))


def receiver_fields(ac: dict[str, Any], now_s: float, source: Source) -> dict[str, Any]:
    """``aircraft_fields`` of ``ac`` with its legacy dump1090 keys read as the current ones."""
    renamed = {new: ac[old] for old, new in _LEGACY if old in ac and new not in ac}
    return aircraft_fields({**ac, **renamed} if renamed else ac, now_s, source)


def normalise_aircraft_json(payload: Any, source: Source = Source.RECEIVER) -> Normalised:
    """Map an ``aircraft.json`` document (``{now s, aircraft}``) to candidate records."""
    if not isinstance(payload, dict) or "aircraft" not in payload:
        raise UpstreamError("not an aircraft.json document: no 'aircraft' key")
    rows = payload["aircraft"] or []
    if not isinstance(rows, list):
        raise UpstreamError("not an aircraft.json document: 'aircraft' is not a list")
    now_s = epoch_seconds(payload.get("now"))
    candidates, rejects = normalise_aircraft(rows, now_s, source, receiver_fields)
    return Normalised(candidates, rejects, datetime.fromtimestamp(now_s, UTC))


class ReceiverSource:
    """``aircraft.json`` from an http(s) URL or a local file path.

    Holds no mutable state: safe to share between tasks.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        location: str | Path,
        name: str = "receiver",
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._headers = dict(headers or {})
        self.location = location
        self.name = name

    @property
    def is_url(self) -> bool:
        return isinstance(self.location, str) and self.location.startswith(("http://", "https://"))

    async def fetch(self) -> bytes:
        """The raw body, archived as received; the caller parses it for ``normalise``."""
        if self.is_url:
            return await fetch_aircraft(self._client, str(self.location), self._headers)
        path = Path(self.location)
        try:
            # A receiver's file is small, but a slow disk must not stall the event loop.
            return await offload(path.read_bytes)
        except OSError as exc:
            raise UpstreamError(f"cannot read {path}: {exc.strerror}") from exc

    @staticmethod
    def normalise(payload: Any) -> Normalised:
        return normalise_aircraft_json(payload, Source.RECEIVER)
