"""A runway as reference data: its airport, its two ends, size, surface and state.

Units are SI with the unit in the field name (``length_m``, ``le_elevation_m``); headings
are true degrees. ``le`` is the low-numbered end and ``he`` the high-numbered one, as in
OurAirports. Everything but the airport is optional because sources often leave it blank.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Same shape as ``Airport.icao`` so a runway always joins to an airport code.
_AIRPORT_CODE_RE = re.compile(r"[A-Z0-9-]{3,8}")


class Runway(BaseModel):
    """``airport_icao`` is the airport's ICAO code or, lacking one, its OurAirports ident."""

    # NaN/inf would slip past the range checks of the unbounded fields (elevations).
    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    airport_icao: str
    ident: str | None = Field(default=None, description='Both ends, e.g. "09L/27R"')
    length_m: float | None = Field(default=None, ge=0)
    width_m: float | None = Field(default=None, ge=0)
    surface: str | None = Field(default=None, description="Free text: ASP, CON, TURF, ...")
    lighted: bool = False
    closed: bool = False

    le_ident: str | None = None
    le_latitude: float | None = Field(default=None, ge=-90, le=90)
    le_longitude: float | None = Field(default=None, ge=-180, le=180)
    le_elevation_m: float | None = None
    le_heading_deg: float | None = Field(default=None, ge=0, le=360)

    he_ident: str | None = None
    he_latitude: float | None = Field(default=None, ge=-90, le=90)
    he_longitude: float | None = Field(default=None, ge=-180, le=180)
    he_elevation_m: float | None = None
    he_heading_deg: float | None = Field(default=None, ge=0, le=360)

    @field_validator("airport_icao", mode="before")
    @classmethod
    def _airport_icao(cls, value: object) -> str:
        code = str(value).strip().upper()
        if not _AIRPORT_CODE_RE.fullmatch(code):
            raise ValueError(f"airport code must be 3 to 8 letters, digits or '-', got {value!r}")
        return code

    @field_validator("ident", "surface", "le_ident", "he_ident", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value
