"""Property tests: malformed OpenSky rows and payloads never crash the ingest path, and
every record is accounted for.

Rows are valid state vectors, some of them damaged: wrong lengths, any element replaced by
a value of the wrong kind (None, NaN, infinities, huge numbers, bools, odd strings, nested
containers), or not a list at all. They go through ``normalise_states`` and ``validate``,
and through ``Pipeline.process`` on a real SQLite store.
"""

from __future__ import annotations

import itertools
import math
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config import Settings
from domain import FlightState
from domain.flight import normalise_icao24
from ingestion.errors import UpstreamError
from ingestion.opensky import normalise_states
from ingestion.pipeline import Pipeline
from ingestion.sources import parse_json
from ingestion.validate import validate
from runtime.stores import open_stores
from storage.stores import Stores

# The snapshot time of every generated payload: rows are generated relative to it, so the
# valid ones are neither stale nor in the future while the test runs.
NOW = int(time.time())
FAST = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_fresh_codes = itertools.count(0x100000)
_I64, _U64 = -(2**63), 2**64 - 1

weird = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**30, -(10**30), 2**63, -(2**63), 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324]),
    st.text(max_size=12),
    st.sampled_from(["", " ", "NaN", "null", "~abc123", "ABC123", "1e999", "\x00", "🛩"]),
    st.lists(st.integers() | st.none(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


@st.composite
def valid_rows(draw: st.DrawFn) -> list[Any]:
    """A plausible 17- or 18-element state vector seen at most 30 s before ``NOW``."""
    seen = NOW - draw(st.integers(0, 30))
    row: list[Any] = [
        draw(st.text("0123456789abcdef", min_size=6, max_size=6)),
        draw(st.none() | st.text(max_size=8)),
        draw(st.sampled_from(["France", "United States", "Chile", ""])),
        draw(st.none() | st.just(seen)),
        seen,
        draw(st.floats(-180, 180)),
        draw(st.floats(-90, 90)),
        draw(st.none() | st.floats(-400, 20_000)),
        draw(st.booleans()),
        draw(st.none() | st.floats(0, 500)),
        draw(st.none() | st.floats(0, 359.9)),
        draw(st.none() | st.floats(-100, 100)),
        None,
        draw(st.none() | st.floats(-400, 20_000)),
        draw(st.none() | st.sampled_from(["7700", "1000", "0401"])),
        draw(st.booleans()),
        draw(st.integers(0, 3)),
    ]
    if draw(st.booleans()):
        row.append(draw(st.integers(0, 20)))
    return row


@st.composite
def rows(draw: st.DrawFn) -> Any:
    """A valid row, a damaged one, a resized one, or something that is not a row."""
    row = draw(valid_rows())
    kind = draw(st.sampled_from(["valid", "damaged", "damaged", "resized", "not_a_row"]))
    if kind == "damaged":
        for index in draw(st.lists(st.integers(0, len(row) - 1), min_size=1, max_size=4)):
            row[index] = draw(weird)
    elif kind == "resized":
        size = draw(st.integers(0, 24))
        row = row[:size] + [draw(weird) for _ in range(size - len(row))]
    elif kind == "not_a_row":
        row = draw(weird.filter(lambda v: not isinstance(v, list)))
    return row


def payloads(max_rows: int = 25) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda states: {"time": NOW, "states": states}, st.lists(rows(), max_size=max_rows)
    )


def as_parsed(value: Any) -> Any:
    """``value`` as ``parse_json`` (orjson) could hand it over: an integer beyond the
    64-bit range arrives as a float."""
    if isinstance(value, list):
        return [as_parsed(v) for v in value]
    if isinstance(value, dict):
        return {k: as_parsed(v) for k, v in value.items()}
    if isinstance(value, int) and not isinstance(value, bool) and not _I64 <= value <= _U64:
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    return value


def with_fresh_addresses(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` with each valid icao24 replaced by one no earlier example used.

    The store is shared by all examples, so without this an example's rows could be
    duplicates of, or impossible jumps from, an earlier example's.
    """
    fresh: dict[str, str] = {}
    for row in payload["states"]:
        if isinstance(row, list) and row and isinstance(row[0], str):
            try:
                code = normalise_icao24(row[0])
            except ValueError:
                continue
            row[0] = fresh.setdefault(code, f"{next(_fresh_codes):06x}")
    return payload


@pytest.fixture(scope="module")
def pipeline() -> Iterator[Pipeline]:
    """One store for the module: hypothesis cannot use function-scoped fixtures."""
    with tempfile.TemporaryDirectory() as data_dir:
        stores: Stores = open_stores(Settings.from_env({}, data_dir=Path(data_dir)))
        try:
            yield Pipeline(stores.flights, stores.dead_letters)
        finally:
            stores.close()


def _finite_floats(state: FlightState) -> bool:
    values = state.model_dump().values()
    return all(math.isfinite(v) for v in values if isinstance(v, float))


@FAST
@given(payload=payloads())
def test_normalise_and_validate_account_for_every_row(payload: dict[str, Any]) -> None:
    rows_in = payload["states"]
    normalised = normalise_states(payload)
    states, rejects = validate(normalised.candidates, observed_at=normalised.observed_at)
    assert len(normalised.candidates) + len(normalised.rejects) == len(rows_in)
    assert len(states) + len(rejects) == len(normalised.candidates)
    for reject in [*normalised.rejects, *rejects]:
        assert reject.reason
        assert isinstance(reject.reason, str)
        assert reject.detail
        assert any(reject.raw is row for row in rows_in)
    assert all(_finite_floats(s) for s in states)


@FAST
@given(payload=payloads())
def test_pipeline_conserves_records_and_reingest_stores_nothing(
    pipeline: Pipeline, payload: dict[str, Any]
) -> None:
    payload = with_fresh_addresses(as_parsed(payload))
    first = pipeline.process("opensky", payload, normalise_states)
    assert first.error is None
    assert first.received == len(payload["states"])
    assert first.received == first.stored + first.rejected + first.duplicates
    assert sum(first.reasons.values()) == first.rejected
    assert all(reason for reason in first.reasons)

    again = pipeline.process("opensky", payload, normalise_states)
    assert again.received == again.stored + again.rejected + again.duplicates
    assert again.stored == 0
    assert again.duplicates == first.stored + first.duplicates
    assert again.rejected == first.rejected


not_a_states_payload = st.one_of(
    weird,
    st.lists(weird, max_size=3),
    st.fixed_dictionaries({"time": weird}),
    st.fixed_dictionaries({"time": st.integers(0, 2**31), "states": weird}),
    st.fixed_dictionaries({"states": st.lists(rows(), max_size=3)}),
    st.dictionaries(st.text(max_size=6).filter(lambda k: k != "time"), weird, max_size=3),
)


@FAST
@given(payload=not_a_states_payload)
def test_any_payload_is_an_upstream_error_or_accounted_for(
    pipeline: Pipeline, payload: Any
) -> None:
    try:
        normalised = normalise_states(payload)
    except UpstreamError:
        pass
    else:
        states = payload["states"]
        assert isinstance(states, list) or (not states and not normalised.candidates)
    report = pipeline.process("opensky", as_parsed(payload), normalise_states)
    assert report.received == report.stored + report.rejected + report.duplicates


@FAST
@given(body=st.binary(max_size=200) | st.sampled_from([b"", b"<html>", b'{"states": [', b"null"]))
def test_any_body_parses_or_is_an_upstream_error(body: bytes) -> None:
    try:
        parse_json(body)
    except UpstreamError as exc:
        error = exc
    else:
        return
    assert error.transient


@pytest.mark.parametrize("observed", [1e20, -1e20, math.inf, math.nan, 10**30])
def test_an_absurd_snapshot_time_is_not_a_crash(observed: float) -> None:
    result = normalise_states({"time": observed, "states": []})
    assert result.observed_at is None


def test_a_row_with_an_int_beyond_64_bits_is_dead_lettered(pipeline: Pipeline) -> None:
    # orjson never produces such an int, but payloads parsed by the stdlib json (Lambda
    # events, replays) can hold one.
    row = [-(2**63) - 1, None, "France", None, NOW, 0.0, 0.0, None, False]
    report = pipeline.process(
        "opensky", {"time": NOW, "states": [row + [None] * 8]}, normalise_states
    )
    assert (report.received, report.rejected) == (1, 1)
