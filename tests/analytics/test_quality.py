"""Data quality from cycle reports: reject rates, failed and missed cycles, merged days."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from analytics import quality
from analytics.results import Basis
from domain.cycle import CycleReport

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def cycle(source: str, seconds: float, received: int = 100, **fields: object) -> CycleReport:
    report = CycleReport(source=source, started_at=T0 + timedelta(seconds=seconds))
    report.received = received
    for name, value in fields.items():
        setattr(report, name, value)
    report.stored = report.received - report.rejected - report.duplicates
    return report


# opensky every 30 s with two slots missing (after 60 s) and one failed fetch; replay every
# 10 s with rejects of two kinds.
CYCLES = [
    cycle("opensky", 0),
    cycle("opensky", 30),
    cycle("opensky", 60),
    cycle("opensky", 150, rejected=4, reasons=Counter(stale_position=4)),
    cycle("opensky", 180, received=0, error="HTTP 503 after 3 attempts"),
    *(
        cycle("replay", s, rejected=2, reasons=Counter(stale_position=1, implausible_altitude=1))
        for s in range(0, 200, 10)
    ),
]


def test_sources_count_failed_and_missed_cycles() -> None:
    found = {s.source: s for s in quality.sources(CYCLES, until=T0 + timedelta(seconds=200))}

    opensky, replay = found["opensky"], found["replay"]
    assert (opensky.cycles, opensky.failed_cycles, opensky.missed_cycles) == (5, 1, 2)
    assert opensky.expected_interval_s == 30.0
    assert opensky.longest_gap_s == 90.0
    assert (opensky.received, opensky.rejected, opensky.stored) == (400, 4, 396)
    assert (replay.cycles, replay.missed_cycles, replay.expected_interval_s) == (20, 0, 10.0)
    assert [(r.reason, r.count) for r in replay.reasons] == [
        ("implausible_altitude", 20),
        ("stale_position", 20),
    ]


def test_the_gap_up_to_the_end_of_the_window_counts() -> None:
    found = quality.sources(CYCLES[:5], until=T0 + timedelta(seconds=300))

    assert found[0].missed_cycles == 2 + 3  # 90 and 120 s, then 210, 240 and 270 s
    assert found[0].longest_gap_s == 120.0


def test_too_few_cycles_tell_no_schedule() -> None:
    [found] = quality.sources(CYCLES[:4], until=T0 + timedelta(hours=1))

    assert (found.expected_interval_s, found.missed_cycles) == (None, 0)
    assert found.longest_gap_s == 3600.0 - 150.0


def test_report_over_a_window() -> None:
    found = quality.report(
        CYCLES, T0, T0 + timedelta(seconds=100), now=T0 + timedelta(hours=1), retained=10_000
    )

    assert found.basis is Basis.CYCLES
    assert found.received == 3 * 100 + 10 * 100
    assert found.rejected == 10 * 2
    assert [(r.reason, r.count) for r in found.reasons] == [
        ("implausible_altitude", 10),
        ("stale_position", 10),
    ]
    assert not found.partial


def test_a_history_that_starts_after_the_window_is_partial() -> None:
    kept = CYCLES[-5:]

    found = quality.report(kept, T0, T0 + timedelta(hours=1), now=T0, retained=5)

    assert found.partial


def test_days_merge() -> None:
    day1 = quality.sources(CYCLES[:5], until=T0 + timedelta(seconds=200))
    day2 = quality.sources(CYCLES[3:5], until=T0 + timedelta(seconds=200))

    [merged] = quality.merge_sources([day1, day2])

    assert (merged.cycles, merged.failed_cycles, merged.received) == (7, 2, 400 + 100)
    assert merged.missed_cycles == day1[0].missed_cycles == 2
    assert merged.expected_interval_s == 30.0  # day two had too few cycles to tell
    assert merged.longest_gap_s == 90.0
    assert [(r.reason, r.count) for r in merged.reasons] == [("stale_position", 8)]
