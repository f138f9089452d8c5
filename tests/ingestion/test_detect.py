"""Layout detection for ``file:PATH``: every recorded sample is recognised and normalised
with its own source; anything else is refused with a message that says what was found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from domain import Source
from ingestion.detect import Layout, detect_layout, normalise_any, normaliser_for
from ingestion.errors import UpstreamError

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

SAMPLES: list[tuple[str, Layout, Source, int]] = [
    ("opensky_states_small_4_18field.json", "opensky", Source.OPENSKY, 4),
    ("opensky_states_bbox_alps_79.json", "opensky", Source.OPENSKY, 79),
    ("opensky_states_all_18field_first500.json", "opensky", Source.OPENSKY, 500),
    ("adsblol_v2_point_716ac.json", "v2", Source.ADSBX, 716),
    ("readsb_aircraft_plord12_london.json", "aircraft_json", Source.RECEIVER, 44),
    ("dump1090fa_aircraft_kdriver_2018.json", "aircraft_json", Source.RECEIVER, 48),
    ("dump1090_aircraft_legacy_altitude_field_esin.json", "aircraft_json", Source.RECEIVER, 4),
]


def load(name: str) -> Any:
    return orjson.loads((FIXTURES / name).read_bytes())


@pytest.mark.parametrize(("name", "layout", "source", "count"), SAMPLES)
def test_each_recorded_sample_is_recognised(
    name: str, layout: Layout, source: Source, count: int
) -> None:
    payload = load(name)
    assert detect_layout(payload) == layout
    result = normaliser_for(payload)(payload)
    assert len(result.candidates) + len(result.rejects) == count
    assert {c.fields["source"] for c in result.candidates} == {source}
    assert result.observed_at is not None
    assert normalise_any(payload) == result


@pytest.mark.parametrize(
    ("payload", "layout"),
    [
        ({"time": 1683488744, "states": None}, "opensky"),
        ({"ac": [], "now": 1785336058500}, "v2"),
        ({"ac": None, "msg": "No error"}, "v2"),
        ({"aircraft": [], "now": 1785336058500}, "v2"),  # a mirror naming the list "aircraft"
        ({"aircraft": [], "now": 1785349721.5, "messages": 0}, "aircraft_json"),
        ({"aircraft": [], "now": 1785349721}, "aircraft_json"),  # adsb.lol's feeder map
    ],
)
def test_layouts_by_their_keys(payload: dict[str, Any], layout: Layout) -> None:
    assert detect_layout(payload) == layout


@pytest.mark.parametrize(
    "payload",
    [
        None,
        [],
        [["ab1644", "UAL421  "]],
        "<html>502 Bad Gateway</html>",
        1785349721.5,
        {},
        {"error": "rate limited"},
        {"states": []},  # OpenSky without its time
        {"time": 1683488744},
        {"aircraft": []},  # aircraft.json without its time
        {"aircraft": [], "now": "1785349721.5"},
        {"aircraft": [], "now": True},
        {"aircraft": {"hex": "abc123"}, "now": 1785349721.5},
        {1: "not a string key"},
    ],
)
def test_anything_else_is_an_upstream_error(payload: Any) -> None:
    with pytest.raises(UpstreamError, match="unknown payload layout"):
        detect_layout(payload)
    with pytest.raises(UpstreamError, match="unknown payload layout"):
        normaliser_for(payload)


def test_the_error_names_what_was_found() -> None:
    with pytest.raises(UpstreamError, match="got an object with keys: error, status"):
        detect_layout({"status": 429, "error": "rate limited"})
    with pytest.raises(UpstreamError, match="a JSON list, expected an object"):
        detect_layout([])
