"""An airport as reference data: codes, names, place and position."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_ICAO_RE = re.compile(r"[A-Z0-9-]{3,8}")
_IATA_RE = re.compile(r"[A-Z0-9]{3}")


class Airport(BaseModel):
    """``icao`` is the airport's ICAO code or, lacking one, its OurAirports ident."""

    model_config = ConfigDict(frozen=True)

    icao: str
    iata: str | None = None
    name: str
    city: str | None = None
    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2 code")
    region: str | None = Field(default=None, description="ISO 3166-2 code or subdivision name")
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    elevation_m: float | None = None
    type: str | None = None
    time_zone: str | None = None

    @field_validator("icao", mode="before")
    @classmethod
    def _icao(cls, value: object) -> str:
        code = str(value).strip().upper()
        if not _ICAO_RE.fullmatch(code):
            raise ValueError(f"airport code must be 3 to 8 letters, digits or '-', got {value!r}")
        return code

    @field_validator("iata", mode="before")
    @classmethod
    def _iata(cls, value: object) -> str | None:
        code = str(value or "").strip().upper()
        if not code:
            return None
        if not _IATA_RE.fullmatch(code):
            raise ValueError(f"IATA code must be 3 letters or digits, got {value!r}")
        return code

    @field_validator("city", "region", "country", "time_zone", "type", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @classmethod
    def trusted(cls, fields: dict[str, Any]) -> Airport:
        """An airport from ``fields`` that were validated before, e.g. read back from a store.

        Skips validation and defaults: ``fields`` must name every field. Every airport so
        made shares one set of field names, where ``model_construct`` gives each a set of its
        own (a third of an airport's memory in the 28,000-airport index).
        """
        airport = _new(cls)
        _set(airport, "__dict__", fields)
        _set(airport, "__pydantic_fields_set__", _ALL_FIELDS)
        _set(airport, "__pydantic_extra__", None)
        _set(airport, "__pydantic_private__", None)
        return airport


_new = object.__new__
_set = object.__setattr__
_ALL_FIELDS = frozenset(Airport.model_fields)
