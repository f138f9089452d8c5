"""Tiles, watched aircraft and the enhanced filter of a subscription: what AppSync selects
for a subscriber."""

from __future__ import annotations

import pytest

from appsync.tiles import (
    EVERY_TILE,
    MAX_VALUES,
    TILE_DEG,
    subscription_filter,
    tile_of,
    tiles_of,
    watched_alone,
)
from domain import BoundingBox, InvalidArgument


def test_a_position_has_one_tile_counted_from_the_south_west() -> None:
    assert tile_of(-90, -180) == "0.0"
    assert tile_of(46.2, 6.1) == "9.12"
    assert tile_of(90, 180) == f"{180 // TILE_DEG - 1}.0"  # the pole row; 180 is -180


@pytest.mark.parametrize(
    ("box", "tiles"),
    [
        (BoundingBox(46.0, 6.0, 46.5, 6.5), ["9.12"]),
        (BoundingBox(40, -5, 55, 10), ["8.11", "8.12", "9.11", "9.12"]),
        (BoundingBox(10, 170, 20, -170), ["6.23", "6.0", "7.23", "7.0"]),  # antimeridian
    ],
)
def test_a_box_touches_the_tiles_of_its_corners_and_between(
    box: BoundingBox, tiles: list[str]
) -> None:
    assert tiles_of(box) == tiles


def test_every_position_of_a_box_is_in_one_of_its_tiles() -> None:
    box = BoundingBox(35.5, -12.25, 61.0, 31.5)
    tiles = set(tiles_of(box))
    for lat in (35.5, 40.0, 44.99, 45.0, 59.9, 61.0):
        for lon in (-12.25, -0.01, 0.0, 14.99, 15.0, 31.5):
            assert tile_of(lat, lon) in tiles


def test_the_filter_groups_tiles_five_to_a_filter() -> None:
    box = {"south": 35.0, "west": -10.0, "north": 70.0, "east": 40.0}
    found = subscription_filter({"bbox": box})

    assert found is not None
    groups = found["filterGroup"]
    values = [v for g in groups for f in g["filters"] for v in f["value"]]
    assert values == tiles_of(BoundingBox(35.0, -10.0, 70.0, 40.0))
    assert all(len(f["value"]) <= 5 and f["operator"] == "in" for g in groups for f in g["filters"])


def test_no_box_or_one_beyond_the_filter_limits_takes_every_tile() -> None:
    world = {"south": -90.0, "west": -180.0, "north": 90.0, "east": 180.0}
    assert len(tiles_of(BoundingBox(-90, -180, 90, 180))) > MAX_VALUES
    assert subscription_filter({"bbox": world}) == EVERY_TILE
    assert subscription_filter({}) == EVERY_TILE
    # every tile, but not the batches of aircraft published alone
    assert EVERY_TILE == {
        "filterGroup": [{"filters": [{"fieldName": "tile", "operator": "ne", "value": "aircraft"}]}]
    }


def test_named_aircraft_take_their_own_batches_wherever_they_are() -> None:
    given = {"bbox": {"south": 46.0, "west": 6.0, "north": 46.5, "east": 6.5}}
    codes = [f"{n:06x}" for n in range(7)]
    found = subscription_filter({**given, "icao24": [c.upper() for c in reversed(codes)]})

    assert watched_alone({"icao24": [c.upper() for c in codes]}) == codes  # normalised
    assert found == {
        "filterGroup": [
            {"filters": [{"fieldName": "aircraft", "operator": "in", "value": codes[:5]}]},
            {"filters": [{"fieldName": "aircraft", "operator": "in", "value": codes[5:]}]},
        ]
    }


def test_more_aircraft_than_a_filter_lists_take_the_tiles_of_the_box() -> None:
    bbox = {"south": 46.0, "west": 6.0, "north": 46.5, "east": 6.5}
    many = [f"{n:06x}" for n in range(MAX_VALUES + 1)]

    assert watched_alone({"icao24": many}) == []
    assert subscription_filter({"bbox": bbox, "icao24": many}) == subscription_filter(
        {"bbox": bbox}
    )
    assert subscription_filter({"icao24": many}) == EVERY_TILE


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"bbox": {"south": 50.0, "west": 0.0, "north": 40.0, "east": 1.0}}, "south"),
        ({"icao24": ["3c64zz"]}, "icao24 must be 6 hexadecimal digits"),
        ({"icao24": []}, "icao24 must list between 1 and 1000 aircraft"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        subscription_filter(arguments)
    assert message in str(raised.value)
