"""A track: the ordered positions of one aircraft over a time range."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import FlightState


@strawberry.type
class TrackPoint:
    time: datetime
    latitude: float
    longitude: float
    baro_altitude_m: float | None
    geo_altitude_m: float | None
    velocity_mps: float | None
    true_track_deg: float | None
    vertical_rate_mps: float | None
    on_ground: bool

    @classmethod
    def from_state(cls, s: FlightState) -> TrackPoint:
        assert s.latitude is not None
        assert s.longitude is not None
        return cls(
            time=s.time,
            latitude=s.latitude,
            longitude=s.longitude,
            baro_altitude_m=s.baro_altitude_m,
            geo_altitude_m=s.geo_altitude_m,
            velocity_mps=s.velocity_mps,
            true_track_deg=s.true_track_deg,
            vertical_rate_mps=s.vertical_rate_mps,
            on_ground=s.on_ground,
        )


@strawberry.type
class Track:
    icao24: str
    callsign: str | None
    start_time: datetime | None
    end_time: datetime | None
    points: list[TrackPoint]

    @classmethod
    def from_states(cls, icao24: str, states: list[FlightState]) -> Track:
        points = [TrackPoint.from_state(s) for s in states if s.has_position]
        callsign = next((s.callsign for s in reversed(states) if s.callsign), None)
        return cls(
            icao24=icao24,
            callsign=callsign,
            start_time=points[0].time if points else None,
            end_time=points[-1].time if points else None,
            points=points,
        )
