"""CloudWatch embedded metric format (EMF): metrics as structured log lines on Lambda.

Lambda sends a function's stdout to CloudWatch Logs, which turns each line holding an
``_aws.CloudWatchMetrics`` directive into metrics: no API call, no agent, no latency added
to the invocation. One line::

    {"_aws": {"Timestamp": 1764237600000,
              "CloudWatchMetrics": [{"Namespace": "FlightData", "Dimensions": [["Source"]],
                                     "Metrics": [{"Name": "RecordsStored", "Unit": "Count"}]}]},
     "Source": "opensky", "RecordsStored": 5123, "cycle_id": "...", "request_id": "..."}

Written by hand rather than with aws-lambda-powertools' ``Metrics``: the format is this
small, and the functions then need no further package (nor its import time at cold start).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson

from domain.cycle import CycleReport
from observability.context import CYCLE_ID, REQUEST_ID

Metrics = Mapping[str, tuple[float, str]]


class EmfWriter:
    """Writes EMF lines to ``stream`` (stdout by default). Thread-safe as its stream is."""

    def __init__(self, namespace: str, stream: TextIO | None = None) -> None:
        self.namespace = namespace
        self._stream = stream

    def document(
        self,
        metrics: Metrics,
        dimensions: Mapping[str, str],
        properties: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The EMF document of ``metrics`` (name → (value, unit)) under ``dimensions``."""
        directive = {
            "Namespace": self.namespace,
            "Dimensions": [sorted(dimensions)],
            "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in metrics.items()],
        }
        doc: dict[str, Any] = {
            "_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [directive]}
        }
        ids = {"request_id": REQUEST_ID.get(), "cycle_id": CYCLE_ID.get()}
        doc.update({k: v for k, v in ids.items() if v is not None})
        doc.update(properties or {})
        doc.update(dimensions)
        doc.update({name: value for name, (value, _) in metrics.items()})
        return doc

    def put(
        self,
        metrics: Metrics,
        dimensions: Mapping[str, str],
        properties: Mapping[str, Any] | None = None,
    ) -> None:
        stream = self._stream or sys.stdout
        stream.write(orjson.dumps(self.document(metrics, dimensions, properties)).decode() + "\n")
        stream.flush()

    def cycle(self, report: CycleReport, *, function: str) -> None:
        """An ingest cycle's records by outcome, and its dead letters by reason."""
        source = {"Source": report.source}
        self.put(
            {
                "RecordsReceived": (report.received, "Count"),
                "RecordsStored": (report.stored, "Count"),
                "RecordsRejected": (report.rejected, "Count"),
                "RecordsDuplicate": (report.duplicates, "Count"),
                "CycleFailed": (1 if report.error else 0, "Count"),
            },
            source,
            {"function": function, "archive_key": report.archive_key},
        )
        for reason, count in sorted(report.reasons.items()):
            self.put({"DeadLetters": (count, "Count")}, {**source, "Reason": reason})

    def graphql(self, operation: str, seconds: float) -> None:
        """One GraphQL execution's latency, by operation (a ``metrics`` sink)."""
        self.put({"GraphQLLatency": (seconds * 1000.0, "Milliseconds")}, {"Operation": operation})

    def data_age(self, newest: datetime | None, *, function: str) -> None:
        """Seconds since the newest stored state: the stale-data alarm's metric. Nothing
        while the store holds no state (the alarm counts a missing datapoint as stale)."""
        if newest is None:
            return
        age = max(0.0, (datetime.now(UTC) - newest).total_seconds())
        self.put({"DataAgeSeconds": (round(age, 1), "Seconds")}, {"Function": function})

    def cache(self, hits: int, misses: int, *, function: str) -> None:
        """Response-cache lookups answered from the cache and computed: the hit-ratio
        alarm's metrics. Nothing when there was no lookup."""
        if hits or misses:
            self.put(
                {"CacheHits": (hits, "Count"), "CacheMisses": (misses, "Count")},
                {"Function": function},
            )
