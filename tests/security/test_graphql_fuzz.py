"""Property tests: generated GraphQL documents and variables against the app in-process
never get a 5xx (nor an answer whose error was masked as unexpected, which is a 500 by
another name).

``schemathesis`` reads the schema by introspection and generates queries for each root
field with arguments of every shape; a second test sends arbitrary JSON as the variables
of fixed documents, and arbitrary text as documents. Examples are few (the suite runs on
two cores): the point is breadth, the seeds differ from run to run.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from securitykit import TIERS
from starlette.applications import Starlette

from app import create_app
from config import Settings
from security.keys import KeyService
from testkit import TestClient

MASKED = "Unexpected error."


@dataclass
class Fuzzed:
    app: Starlette
    headers: dict[str, str]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[Fuzzed]:
    """The app with anonymous access off; every request carries an admin key of a tier the
    fuzzer cannot exhaust, so that answers come from the resolvers, not from the gate."""
    data = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(seeded_db, data / seeded_db.name)
    settings = dataclasses.replace(Settings.from_env({}, data_dir=data), anonymous=False)
    app = create_app(settings, ingest=False)
    stores = app.state.runtime.stores
    key = KeyService(stores.api_keys, TIERS).create("fuzz", scope="admin", tier="partner")
    yield Fuzzed(app, {"X-API-Key": key.key})
    stores.close()


def _check(status: int, body: Any) -> None:
    assert status < 500, body
    if isinstance(body, dict):
        messages = [e.get("message") for e in body.get("errors") or ()]
        assert MASKED not in messages, body


def test_generated_documents_never_get_a_server_error(fuzzed: Fuzzed) -> None:
    # Positive and negative generation: valid documents and documents with bad arguments.
    schema = schemathesis.graphql.from_asgi("/graphql", fuzzed.app, headers=fuzzed.headers)
    cases = st.one_of(
        schema.as_strategy(mode, headers=fuzzed.headers)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    )

    @given(case=cases)
    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    def call(case: Any) -> None:
        response = case.call(headers=fuzzed.headers)
        _check(response.status_code, response.json() if response.content else None)

    call()


DOCUMENTS = [
    "query($b: BoundingBoxInput, $n: Int!, $a: String, $s: DateTime)"
    " { flights(bbox: $b, first: $n, after: $a, since: $s) { totalCount nodes { icao24 } } }",
    "query($c: String!, $s: DateTime, $e: DateTime)"
    " { flight(icao24: $c) { icao24 track(start: $s, end: $e) { points { time } } } }",
    "query($p: GeoPointInput, $r: Float!, $q: String, $n: Int!)"
    " { airports(near: $p, radiusKm: $r, search: $q, first: $n) { nodes { icao } } }",
    "query($n: Int!, $r: String) { deadLetters(first: $n, reason: $r) { totalCount } }",
    "query($w: String, $c: Float!) { analytics { trafficDensity(window: $w, cellDeg: $c)"
    " { aircraft } } }",
]
FLOATS = st.floats(allow_nan=False, allow_infinity=False)  # JSON has neither
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | FLOATS | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
BOXES = st.fixed_dictionaries(
    {k: FLOATS | st.integers() for k in ("south", "west", "north", "east")}
)
POINTS = st.fixed_dictionaries({"latitude": FLOATS, "longitude": FLOATS})
TIMES = st.datetimes(timezones=st.none() | st.timezones()).map(lambda t: t.isoformat())
WINDOWS = st.sampled_from(["PT6H", "P1D", "P30D", "2026-11-26", "x/y", ""])
# Each variable: mostly a value of its declared type (so that resolvers run), else junk.
TYPED = {
    "b": BOXES | st.none(),
    "n": st.integers(1, 1000) | st.integers(-(2**40), 2**40),
    "a": st.text(max_size=30),
    "s": TIMES,
    "e": TIMES,
    "c": st.text("0123456789abcdef~", max_size=8),
    "p": POINTS,
    "r": FLOATS,
    "q": st.text(max_size=10),
    "w": WINDOWS,
}
VARIABLES = st.fixed_dictionaries(
    {name: st.one_of(strategy, strategy, strategy, JSON) for name, strategy in TYPED.items()}
)


@given(document=st.sampled_from(DOCUMENTS), variables=VARIABLES)
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
def test_arbitrary_variables_never_get_a_server_error(
    fuzzed: Fuzzed, document: str, variables: dict[str, Any]
) -> None:
    client = TestClient(fuzzed.app)
    body = {"query": document, "variables": variables}
    response = client.post("/graphql", json=body, headers=fuzzed.headers)
    _check(response.status_code, response.json())


HALVES = st.sampled_from(DOCUMENTS).map(lambda d: d[: len(d) // 2])


@given(document=st.text(max_size=200) | HALVES)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_arbitrary_documents_never_get_a_server_error(fuzzed: Fuzzed, document: str) -> None:
    client = TestClient(fuzzed.app)
    response = client.post("/graphql", json={"query": document}, headers=fuzzed.headers)
    is_json = response.headers.get("content-type", "").startswith("application/json")
    _check(response.status_code, response.json() if is_json else response.text)
