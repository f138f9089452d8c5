"""Which layout a recorded payload has, and the normaliser for it (for ``file:PATH``).

==============  ===============================================================
layout          recognised by
==============  ===============================================================
opensky         an object with ``states`` and ``time`` (``states/all``)
v2              an object with ``ac``, or with ``aircraft`` and ``now`` in
                milliseconds (> 1e11): the ADS-B Exchange v2 family
aircraft_json   an object with an ``aircraft`` list and ``now`` in seconds:
                readsb / dump1090-fa ``aircraft.json``
==============  ===============================================================

Anything else raises ``UpstreamError`` naming what was found. Pure; no state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, Literal

from domain import Source
from ingestion.adsbx import normalise_v2
from ingestion.batch import Normalised
from ingestion.errors import UpstreamError
from ingestion.opensky import normalise_states
from ingestion.receiver import normalise_aircraft_json

Layout = Literal["opensky", "v2", "aircraft_json"]

# Unix time 1e11 is the year 5138 in seconds but 1973 in milliseconds.
_MS_THRESHOLD = 1e11

_NORMALISERS: dict[Layout, Callable[[Any], Normalised]] = {
    "opensky": partial(normalise_states, source=Source.OPENSKY),
    "v2": partial(normalise_v2, source=Source.ADSBX),
    "aircraft_json": partial(normalise_aircraft_json, source=Source.RECEIVER),
}


def detect_layout(payload: Any) -> Layout:
    """The layout of ``payload``; ``UpstreamError`` if it is none of the known ones."""
    if not isinstance(payload, dict):
        raise UpstreamError(
            f"unknown payload layout: a JSON {type(payload).__name__}, expected an object"
        )
    if "states" in payload and "time" in payload:
        return "opensky"
    if "ac" in payload:
        return "v2"
    now = payload.get("now")
    if isinstance(payload.get("aircraft"), list) and (type(now) is int or type(now) is float):
        return "v2" if now > _MS_THRESHOLD else "aircraft_json"
    keys = ", ".join(sorted(map(str, payload))[:10]) or "none"
    raise UpstreamError(
        "unknown payload layout: expected OpenSky {time, states}, ADS-B v2 {ac, now} or "
        f"aircraft.json {{now, aircraft}}; got an object with keys: {keys}"
    )


def normaliser_for(payload: Any) -> Callable[[Any], Normalised]:
    """The normaliser for ``payload``'s layout, with that layout's ``Source``."""
    return _NORMALISERS[detect_layout(payload)]


def normalise_any(payload: Any) -> Normalised:
    """``payload`` through the normaliser of its layout."""
    return normaliser_for(payload)(payload)
