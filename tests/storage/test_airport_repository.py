"""The ``AirportRepository`` contract, on the seeded airportsdata airports."""

from __future__ import annotations

import pytest

from domain import Airport, GeoPoint, InvalidArgument
from domain.geo import haversine_km
from storage import cursor
from storage.base import AirportFilter, AirportRepository
from storage.stores import Stores

HEATHROW = GeoPoint(51.4706, -0.46194)


def walk(repo: AirportRepository, flt: AirportFilter, first: int) -> list[Airport]:
    """Every airport matching ``flt``, page by page; checks what each page says."""
    found: list[Airport] = []
    after = None
    total = None
    while True:
        page = repo.search(flt, first=first, after=after)
        total = page.total_count if total is None else total
        assert page.total_count == total
        found += page.items
        if not page.has_next_page:
            break
        assert len(page.items) == first
        after = page.end_cursor
    assert len(found) == total
    return found


def test_seeded_from_airportsdata(airport_repo: AirportRepository) -> None:
    assert airport_repo.count() > 28_000


@pytest.mark.parametrize("code", ["EGLL", "egll", "Egll"])
def test_by_icao_is_case_insensitive(airport_repo: AirportRepository, code: str) -> None:
    heathrow = airport_repo.by_icao(code)
    assert heathrow is not None
    assert (heathrow.icao, heathrow.iata, heathrow.name) == (
        "EGLL",
        "LHR",
        "London Heathrow Airport",
    )
    assert (heathrow.country, heathrow.city, heathrow.time_zone) == (
        "GB",
        "London",
        "Europe/London",
    )
    assert heathrow.elevation_m == pytest.approx(83 * 0.3048, abs=0.1)


@pytest.mark.parametrize("code", ["LHR", "lhr"])
def test_by_iata_is_case_insensitive(airport_repo: AirportRepository, code: str) -> None:
    assert airport_repo.by_iata(code).icao == "EGLL"  # type: ignore[union-attr]


def test_unknown_codes(airport_repo: AirportRepository) -> None:
    assert airport_repo.by_icao("ZZZZ") is None
    assert airport_repo.by_iata("ZZZ") is None
    assert airport_repo.by_icao("LHR") is None


def test_many_by_icao(airport_repo: AirportRepository) -> None:
    found = airport_repo.many_by_icao(["egll", "KJFK", "ZZZZ", "EGLL"])
    assert set(found) == {"EGLL", "KJFK"}
    assert found["KJFK"].iata == "JFK"
    assert airport_repo.many_by_icao([]) == {}


def test_search_by_country_is_case_insensitive(airport_repo: AirportRepository) -> None:
    page = airport_repo.search(AirportFilter(country="is"), first=1000)
    assert page.items
    assert {a.country for a in page.items} == {"IS"}
    assert page.total_count == len(page.items)
    codes = [a.icao for a in page.items]
    assert codes == sorted(codes)
    assert "BIKF" in codes


def test_search_by_region(airport_repo: AirportRepository) -> None:
    found = walk(airport_repo, AirportFilter(country="GB", region="england"), first=200)
    assert "EGLL" in {a.icao for a in found}
    assert {a.region for a in found} == {"England"}


def test_search_by_text_matches_name_city_and_codes(airport_repo: AirportRepository) -> None:
    by_name = airport_repo.search(AirportFilter(search="heathrow"), first=10)
    assert "EGLL" in [a.icao for a in by_name.items]
    assert all("heathrow" in a.name.lower() for a in by_name.items)
    by_code = airport_repo.search(AirportFilter(search=" lhr "), first=10)
    assert [a.icao for a in by_code.items] == ["EGLL"]
    by_city = airport_repo.search(AirportFilter(search="Reykjav", country="IS"), first=10)
    assert {a.city for a in by_city.items} == {"Reykjavik"}


def test_search_text_escapes_like_wildcards(airport_repo: AirportRepository) -> None:
    assert airport_repo.search(AirportFilter(search="%"), first=10).total_count == 0
    assert airport_repo.search(AirportFilter(search="_"), first=10).total_count == 0


def test_search_without_filters_pages_through_everything(airport_repo: AirportRepository) -> None:
    page = airport_repo.search(AirportFilter(), first=3)
    assert page.total_count == airport_repo.count()
    nxt = airport_repo.search(AirportFilter(), first=3, after=page.end_cursor)
    assert nxt.items[0].icao > page.items[-1].icao


def test_pagination_by_code_has_no_gaps(airport_repo: AirportRepository) -> None:
    everything = airport_repo.search(AirportFilter(country="NZ"), first=1000).items
    assert [a.icao for a in walk(airport_repo, AirportFilter(country="NZ"), 7)] == [
        a.icao for a in everything
    ]


def test_near_is_ordered_by_distance_within_the_radius(airport_repo: AirportRepository) -> None:
    found = walk(airport_repo, AirportFilter(near=HEATHROW, radius_km=40.0), first=4)
    distances = [haversine_km(51.4706, -0.46194, a.latitude, a.longitude) for a in found]
    assert found[0].icao == "EGLL"
    assert distances == sorted(distances)
    assert all(d <= 40.0 for d in distances)
    assert {"EGLL", "EGLC", "EGKB"} <= {a.icao for a in found}
    assert "EGKK" not in {a.icao for a in found}  # Gatwick is about 41 km away


def test_near_finds_what_a_full_scan_finds(airport_repo: AirportRepository) -> None:
    near = AirportFilter(near=GeoPoint(47.0, 8.0), radius_km=60.0)
    found = {a.icao for a in walk(airport_repo, near, first=100)}
    everything = walk(airport_repo, AirportFilter(), first=10_000)
    expected = {
        a.icao for a in everything if haversine_km(47.0, 8.0, a.latitude, a.longitude) <= 60
    }
    assert found == expected
    assert len(expected) > 10


def test_near_combines_with_filters(airport_repo: AirportRepository) -> None:
    # Basel-Mulhouse is in France but 60 km from Zurich: a country filter keeps it out.
    zurich = GeoPoint(47.4647, 8.5492)
    swiss = walk(airport_repo, AirportFilter(near=zurich, radius_km=80, country="CH"), first=50)
    everyone = walk(airport_repo, AirportFilter(near=zurich, radius_km=80), first=50)
    assert swiss[0].icao == "LSZH"
    assert {a.country for a in swiss} == {"CH"}
    assert "LFSB" in {a.icao for a in everyone}
    assert [a.icao for a in swiss] == [a.icao for a in everyone if a.country == "CH"]


def test_near_across_the_antimeridian(airport_repo: AirportRepository) -> None:
    # Taveuni, Fiji: airports on both sides of 180 degrees.
    found = walk(airport_repo, AirportFilter(near=GeoPoint(-16.75, 179.9), radius_km=60), 10)
    codes = [a.icao for a in found]
    assert {"NFNM", "NFNH"} <= set(codes)
    assert all(a.longitude < 0 for a in found if a.icao in {"NFNM", "NFNH"})


def test_near_cursor_checks(airport_repo: AirportRepository) -> None:
    near = AirportFilter(near=HEATHROW, radius_km=40.0)
    by_code = airport_repo.search(AirportFilter(), first=1)
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        airport_repo.search(near, first=5, after=by_code.end_cursor)
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        airport_repo.search(near, first=5, after=cursor.encode("airports-near", -3))
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        airport_repo.search(AirportFilter(), first=5, after="garbage")


def test_nearest_batch(airport_repo: AirportRepository) -> None:
    points = [(51.47, -0.45), (0.0, -140.0), (-16.75, 179.99), (40.64, -73.78)]
    found = airport_repo.nearest(points, 50.0)
    assert len(found) == len(points)
    assert found[0] is not None
    assert found[0].airport.icao == "EGLL"
    assert found[0].distance_km == pytest.approx(haversine_km(51.47, -0.45, 51.4706, -0.46194))
    assert found[1] is None  # the middle of the Pacific
    assert found[2] is not None
    assert found[2].airport.icao in {"NFNM", "NFNH"}
    assert found[3] is not None
    assert found[3].airport.icao == "KJFK"
    assert airport_repo.nearest([], 50.0) == []


def test_put_replaces_by_icao_and_refreshes_nearest(stores: Stores) -> None:
    repo = stores.airports
    assert repo.nearest([(10.0, 10.0)], 10.0) == [None]
    repo.put_airports([Airport(icao="XXAA", name="Old", latitude=10.0, longitude=10.0)])
    assert repo.nearest([(10.0, 10.0)], 10.0)[0].airport.name == "Old"  # type: ignore[union-attr]
    repo.put_airports([Airport(icao="XXAA", name="New", latitude=10.01, longitude=10.0)])
    assert repo.count() == 1
    assert repo.by_icao("xxaa").name == "New"  # type: ignore[union-attr]
    assert repo.nearest([(10.0, 10.0)], 10.0)[0].airport.name == "New"  # type: ignore[union-attr]


def test_shared_iata_prefers_the_bigger_airport(stores: Stores) -> None:
    repo = stores.airports
    repo.put_airports(
        [
            Airport(icao="AAA1", iata="QQQ", name="Closed", latitude=1, longitude=1, type="closed"),
            Airport(icao="AAA2", iata="QQQ", name="Untyped", latitude=1, longitude=1),
            Airport(
                icao="AAA3", iata="QQQ", name="Small", latitude=1, longitude=1, type="small_airport"
            ),
        ]
    )
    assert repo.by_iata("QQQ").name == "Small"  # type: ignore[union-attr]
    repo.put_airports(
        [
            Airport(
                icao="AAA3", iata="QQQ", name="Heliport", latitude=1, longitude=1, type="heliport"
            )
        ]
    )
    # An airport of unknown type may be anything; it outranks a known heliport or closed one.
    assert repo.by_iata("QQQ").name == "Untyped"  # type: ignore[union-attr]
