"""A flight state: OpenSky's state vector made canonical.

Units are SI and named in the field (``_m``, ``_mps``, ``_deg``); times are aware UTC
datetimes; ``icao24`` is six lowercase hex digits (a non-ICAO address such as readsb's
``~abc123`` is kept with ``non_icao=True``); callsigns are trimmed and ``None`` when blank.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from domain.leg import FlightPhase

ICAO24_RE = re.compile(r"[0-9a-f]{6}")


class Source(StrEnum):
    REPLAY = "REPLAY"
    OPENSKY = "OPENSKY"
    ADSBX = "ADSBX"
    RECEIVER = "RECEIVER"


class PositionSource(IntEnum):
    """Where the position came from (OpenSky state vector index 16)."""

    ADSB = 0
    ASTERIX = 1
    MLAT = 2
    FLARM = 3


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


def normalise_icao24(value: str) -> str:
    """Return ``value`` as six lowercase hex digits or raise ``ValueError``."""
    hex_ = value.strip().lower().removeprefix("~")
    if not ICAO24_RE.fullmatch(hex_):
        raise ValueError(f"icao24 must be 6 hex digits, got {value!r}")
    return hex_


class FlightState(BaseModel):
    """One aircraft's state at one moment. Immutable once validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    icao24: str
    non_icao: bool = False
    callsign: str | None = None
    origin_country: str | None = None
    time_position: UtcDatetime | None = None
    last_contact: UtcDatetime
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    baro_altitude_m: float | None = Field(default=None, ge=-500, le=25_000)
    geo_altitude_m: float | None = Field(default=None, ge=-500, le=25_000)
    on_ground: bool = False
    velocity_mps: float | None = Field(default=None, ge=0, le=600)
    true_track_deg: float | None = Field(default=None, ge=0, le=360)
    vertical_rate_mps: float | None = Field(default=None, ge=-150, le=150)
    squawk: str | None = None
    spi: bool = False
    position_source: PositionSource | None = None
    category: int | None = Field(default=None, ge=0, le=20)
    source: Source
    # Derived by enrichment; None until the state has been through it.
    region: str | None = None
    grid_cell: str | None = None
    phase: FlightPhase | None = None
    nearest_airport_icao: str | None = None
    nearest_airport_km: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _non_icao_marker(cls, data: Any) -> Any:
        # The '~' of a non-ICAO address is stripped from icao24, so keep it as the flag.
        if isinstance(data, dict):
            code = data.get("icao24")
            if isinstance(code, str) and code.lstrip().startswith("~"):
                return {**data, "non_icao": True}
        return data

    @field_validator("icao24", mode="before")
    @classmethod
    def _icao24(cls, value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("icao24 must be a string")
        return normalise_icao24(value)

    @field_validator("callsign", mode="before")
    @classmethod
    def _callsign(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("callsign must be a string")
        return value.strip() or None

    @field_validator("true_track_deg", mode="before")
    @classmethod
    def _bearing(cls, value: Any) -> Any:
        # FLARM reports tracks as signed angles (-150 is 210); fold them into [0, 360).
        if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
            return value % 360.0
        return value

    @field_validator("longitude", "latitude", mode="after")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and value != value:  # NaN passes ge/le checks
            raise ValueError("must be a number, not NaN")
        return value

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> FlightState:
        """A state from ``fields`` that were validated before, e.g. read back from a store.

        Skips validation and defaults: ``fields`` must name every field. Reading thousands
        of states per request makes ``model_construct`` (about 5 µs each) too slow.
        """
        state = _new(cls)
        _set(state, "__dict__", fields)
        _set(state, "__pydantic_fields_set__", _ALL_FIELDS)
        _set(state, "__pydantic_extra__", None)
        _set(state, "__pydantic_private__", None)
        return state

    @property
    def time(self) -> datetime:
        """The key time of this state: when its position was measured, else last contact."""
        return self.time_position or self.last_contact

    @property
    def altitude_m(self) -> float | None:
        """Barometric altitude, else geometric: what most consumers mean by altitude."""
        return self.baro_altitude_m if self.baro_altitude_m is not None else self.geo_altitude_m

    @property
    def has_position(self) -> bool:
        return self.latitude is not None and self.longitude is not None


_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS = frozenset(FlightState.model_fields)
