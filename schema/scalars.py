"""Enums shared by several GraphQL types: the domain's own enums, registered with Strawberry."""

from __future__ import annotations

import strawberry

from domain.flight import PositionSource, Source
from domain.leg import FlightPhase

strawberry.enum(Source, name="Source", description="Where a state came from.")
strawberry.enum(PositionSource, name="PositionSource", description="How the position was found.")

strawberry.enum(FlightPhase, name="FlightPhase", description="What the aircraft is doing.")

__all__ = ["FlightPhase", "PositionSource", "Source"]
