"""Data quality from the ingest cycle reports: rejects by reason and by source, cycles that
failed or never ran.

- A reject rate is rejected / received: per source over its records, per reason over all.
- A failed cycle has an ``error`` (the source failed after its retries).
- A source's schedule is the median spacing of its cycle starts in the window (10 s on the
  embedded default, 30 s on AWS, whatever it is set to); a gap of ``n`` spacings (rounded)
  holds ``n - 1`` missed cycles. Gaps count between cycles and from the last one to the
  end of the window (or now), not before the first: a source may have started in the
  window. With fewer than five cycles (four spacings) there is no schedule to miss.

Counts add up across windows (whole days); the schedule and the longest gap do not, and
are merged as the median and the maximum of the days'.
"""

from __future__ import annotations

import itertools
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from analytics.results import Basis, DataQuality, ReasonCount, SourceQuality
from domain.cycle import CycleReport

MIN_CYCLES_FOR_SCHEDULE = 5
# Both cycle stores keep the newest 10,000 reports (a day and more at one cycle every 10 s).
CYCLE_HISTORY = 10_000


def in_window(cycles: Iterable[CycleReport], start: datetime, end: datetime) -> list[CycleReport]:
    return sorted((c for c in cycles if start <= c.started_at < end), key=lambda c: c.started_at)


def reason_counts(counts: Counter[str]) -> list[ReasonCount]:
    """Most frequent first."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [ReasonCount(reason=r, count=n) for r, n in ordered if n]


def sources(cycles: Sequence[CycleReport], until: datetime) -> list[SourceQuality]:
    """Per source, of ``cycles`` (all in one window ending at ``until``), by name."""
    by_source: dict[str, list[CycleReport]] = defaultdict(list)
    for cycle in sorted(cycles, key=lambda c: c.started_at):
        by_source[cycle.source].append(cycle)
    return [_source(name, by_source[name], until) for name in sorted(by_source)]


def _source(name: str, cycles: list[CycleReport], until: datetime) -> SourceQuality:
    starts = [c.started_at.timestamp() for c in cycles]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    tail = until.timestamp() - starts[-1]
    interval = statistics.median(gaps) if len(cycles) >= MIN_CYCLES_FOR_SCHEDULE else None
    missed = 0
    if interval:
        missed = sum(max(0, round(gap / interval) - 1) for gap in [*gaps, tail])
    reasons: Counter[str] = Counter()
    for cycle in cycles:
        reasons.update(cycle.reasons)
    return SourceQuality(
        source=name,
        cycles=len(cycles),
        failed_cycles=sum(1 for c in cycles if c.error),
        missed_cycles=missed,
        expected_interval_s=interval,
        longest_gap_s=max([*gaps, tail]),
        received=sum(c.received for c in cycles),
        stored=sum(c.stored for c in cycles),
        rejected=sum(c.rejected for c in cycles),
        duplicates=sum(c.duplicates for c in cycles),
        reasons=reason_counts(reasons),
    )


def merge_sources(days: Iterable[Sequence[SourceQuality]]) -> list[SourceQuality]:
    """The per-source figures of several windows (whole days) as one."""
    by_source: dict[str, list[SourceQuality]] = defaultdict(list)
    for day in days:
        for found in day:
            by_source[found.source].append(found)
    return [_merged(name, by_source[name]) for name in sorted(by_source)]


def _merged(name: str, days: list[SourceQuality]) -> SourceQuality:
    reasons: Counter[str] = Counter()
    for day in days:
        reasons.update({r.reason: r.count for r in day.reasons})
    intervals = [d.expected_interval_s for d in days if d.expected_interval_s is not None]
    gaps = [d.longest_gap_s for d in days if d.longest_gap_s is not None]
    return SourceQuality(
        source=name,
        cycles=sum(d.cycles for d in days),
        failed_cycles=sum(d.failed_cycles for d in days),
        missed_cycles=sum(d.missed_cycles for d in days),
        expected_interval_s=statistics.median(intervals) if intervals else None,
        longest_gap_s=max(gaps) if gaps else None,
        received=sum(d.received for d in days),
        stored=sum(d.stored for d in days),
        rejected=sum(d.rejected for d in days),
        duplicates=sum(d.duplicates for d in days),
        reasons=reason_counts(reasons),
    )


def overall_reasons(found: Iterable[SourceQuality]) -> list[ReasonCount]:
    reasons: Counter[str] = Counter()
    for source in found:
        reasons.update({r.reason: r.count for r in source.reasons})
    return reason_counts(reasons)


def report(
    cycles: Sequence[CycleReport],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    retained: int,
    freshness_lag_s: float | None = None,
) -> DataQuality:
    """Data quality over ``[start, end)`` from the newest cycles a store keeps (at most
    ``retained``): ``partial`` when those do not reach back to ``start``."""
    partial = len(cycles) >= retained > 0 and min(c.started_at for c in cycles) > start
    found = sources(in_window(cycles, start, end), until=min(end, now))
    return DataQuality(
        start=start,
        end=end,
        basis=Basis.CYCLES,
        received=sum(s.received for s in found),
        rejected=sum(s.rejected for s in found),
        reasons=overall_reasons(found),
        sources=found,
        freshness_lag_s=freshness_lag_s,
        partial=partial,
    )
