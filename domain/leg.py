"""Flight phases and routes: what enrichment derives from a sequence of states."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class FlightPhase(StrEnum):
    GROUND = "GROUND"
    TAKEOFF = "TAKEOFF"
    CLIMB = "CLIMB"
    CRUISE = "CRUISE"
    DESCENT = "DESCENT"
    APPROACH = "APPROACH"
    LANDING = "LANDING"


class Leg(BaseModel):
    """One leg of one aircraft: from where it left the ground (or first appeared climbing)
    near an airport, to where it landed. ``arrival_*`` are ``None`` while in flight."""

    model_config = ConfigDict(frozen=True)

    icao24: str
    callsign: str | None = None
    departure_icao: str | None = None
    departed_at: datetime
    arrival_icao: str | None = None
    arrived_at: datetime | None = None
    great_circle_km: float | None = Field(
        default=None, description="Departure to arrival (or to the current position)"
    )
    flown_km: float = Field(default=0.0, description="Sum of the distances between positions")
