"""Record-by-record validation of candidates into ``FlightState`` models.

One bad record never fails a batch: each failure becomes a ``Reject`` with a reason code
that names the rule it broke and a detail for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import ValidationError

from domain import FlightState
from ingestion.batch import Candidate, Reject

_REASON_BY_FIELD = {
    "icao24": "invalid_icao24",
    "latitude": "invalid_coordinates",
    "longitude": "invalid_coordinates",
    "baro_altitude_m": "implausible_altitude",
    "geo_altitude_m": "implausible_altitude",
    "velocity_mps": "implausible_speed",
    "vertical_rate_mps": "implausible_vertical_rate",
    "last_contact": "invalid_time",
    "time_position": "invalid_time",
}


def _reject(candidate: Candidate, exc: ValidationError) -> Reject:
    first = exc.errors(include_url=False)[0]
    loc = str(first["loc"][0]) if first["loc"] else ""
    reason = _REASON_BY_FIELD.get(loc, "schema")
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
        for e in exc.errors(include_url=False)
    )
    return Reject(reason, detail, candidate.raw)


def state_key(state: FlightState) -> str:
    """The store's key of a state, ``icao24@epoch``."""
    return f"{state.icao24}@{state.time.timestamp():.3f}"


@dataclass(frozen=True, slots=True)
class Rules:
    """Limits beyond the model's own: how old a position may be, how far in the future."""

    max_position_age: timedelta = timedelta(seconds=300)
    max_future: timedelta = timedelta(seconds=60)


def validate(
    candidates: list[Candidate],
    *,
    observed_at: datetime | None = None,
    rules: Rules = Rules(),
) -> tuple[list[FlightState], list[Reject]]:
    """Validate each candidate; ages are judged against ``observed_at`` (default now)."""
    states, _, rejects = validate_with_raw(candidates, observed_at=observed_at, rules=rules)
    return states, rejects


def validate_with_raw(
    candidates: list[Candidate],
    *,
    observed_at: datetime | None = None,
    rules: Rules = Rules(),
) -> tuple[list[FlightState], list[Any], list[Reject]]:
    """Like ``validate``, also returning each valid state's raw record, index for index."""
    now = datetime.now(UTC)
    reference = observed_at or now
    oldest = reference - rules.max_position_age
    latest = max(now, reference) + rules.max_future
    states: list[FlightState] = []
    raws: list[Any] = []
    rejects: list[Reject] = []
    model_validate = FlightState.model_validate
    for candidate in candidates:
        try:
            state = model_validate(candidate.fields)
        except ValidationError as exc:
            rejects.append(_reject(candidate, exc))
            continue
        if state.time > latest or state.last_contact > latest:
            detail = f"time {state.time.isoformat()} is in the future"
            rejects.append(Reject("future_time", detail, candidate.raw, state_key(state)))
        elif state.time_position is not None and state.time_position < oldest:
            age = (reference - state.time_position).total_seconds()
            limit = rules.max_position_age.total_seconds()
            detail = f"position is {age:.0f} s old, more than {limit:.0f} s"
            rejects.append(Reject("stale_position", detail, candidate.raw, state_key(state)))
        else:
            states.append(state)
            raws.append(candidate.raw)
    return states, raws, rejects
