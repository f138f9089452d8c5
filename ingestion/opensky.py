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

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from domain import Source
from ingestion.batch import Candidate, Normalised, Reject
from ingestion.errors import UpstreamError


async def fetch_states(
    client: httpx.AsyncClient, base_url: str, params: Mapping[str, Any] | None = None
) -> bytes:
    """The raw body of ``GET {base_url}/states/all``."""
    try:
        response = await client.get(f"{base_url.rstrip('/')}/states/all", params=params)
    except httpx.TransportError as exc:
        raise UpstreamError(f"OpenSky unreachable: {exc!r}", transient=True) from exc
    if response.status_code != 200:
        raise UpstreamError(
            f"OpenSky answered HTTP {response.status_code}",
            status=response.status_code,
            transient=response.status_code >= 500,
        )
    return response.content


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
    observed_at = (
        datetime.fromtimestamp(observed, UTC)
        if isinstance(observed, int | float) and not isinstance(observed, bool)
        else None
    )
    return Normalised(candidates, rejects, observed_at)
