"""The committed SDL is the schema the code builds: a change to one without the other fails."""

from __future__ import annotations

from resolvers.root import build_schema
from schema import SDL_PATH, export_sdl


def test_committed_sdl_matches_the_code() -> None:
    committed = SDL_PATH.read_text(encoding="utf-8")
    built = export_sdl(build_schema())
    assert committed == built, (
        f"{SDL_PATH.name} is out of date with the schema code: run `flightdata schema export` "
        "(or `make schema`) and commit the result"
    )


def test_sdl_has_the_entry_points_and_arguments() -> None:
    sdl = export_sdl(build_schema())
    for line in (
        "flights(bbox: BoundingBoxInput = null, callsignPrefix: String = null, "
        "originCountry: String = null, onGround: Boolean = null, since: DateTime = null, "
        "first: Int! = 100, after: String = null): FlightConnection!",
        "flight(icao24: String!): Flight",
        "track(icao24: String!, start: DateTime = null, end: DateTime = null): Track",
        "airport(code: String!): Airport",
    ):
        assert line in sdl, line
    assert "input BoundingBoxInput {" in sdl
    assert "enum Source {" in sdl
