"""The canonical domain model: what a flight state and an airport are, whatever the source."""

from domain.airport import Airport
from domain.errors import InvalidArgument
from domain.flight import FlightState, PositionSource, Source
from domain.geo import BoundingBox, GeoPoint
from domain.leg import FlightPhase, Leg
from domain.runway import Runway

__all__ = [
    "Airport",
    "BoundingBox",
    "FlightPhase",
    "FlightState",
    "GeoPoint",
    "InvalidArgument",
    "Leg",
    "PositionSource",
    "Runway",
    "Source",
]
