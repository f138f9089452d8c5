"""Prometheus metrics, and ``GET /metrics`` in the text exposition format.

Counted as things happen, once per process (every app the process builds shares them):

=============================================  =============================================
flightdata_graphql_request_duration_seconds    histogram by ``operation`` (the request's
                                               operationName; ``anonymous`` without one)
flightdata_rate_limited_requests_total         API requests refused by the rate limiter
                                               (``RATE_LIMITED.inc()``, by the limiter)
flightdata_ingest_cycles_total                 ingest cycles processed, by ``source``
flightdata_ingest_records_total                their records by ``source`` and ``outcome``
                                               (stored, rejected, duplicates)
flightdata_data_quality_alerts_total           DataQualityAlert events, by ``source``
flightdata_upstream_rate_limited_total         RateLimitExceeded events of an upstream
                                               (no ``client``), by ``source``
=============================================  =============================================

The ingest counters move in the process that ingests (``serve``; not the API workers of
``serve --workers N``, whose ingest runs in a process of its own). Read when scraped, so
the hot paths carry no instrumentation and every process reports the shared truth:

=============================================  =============================================
flightdata_cache_{hits,misses,errors}_total    this process's response cache (Redis)
flightdata_subscribers                         live subscriptions of this process
flightdata_subscription_dropped_batches        batches dropped for the slow ones among them
flightdata_dead_letters                        dead letters in the store, by ``reason``
flightdata_last_cycle_records                  the newest stored cycle, by ``outcome``
flightdata_newest_state_age_seconds            age of the newest state in the store
flightdata_store_up                            1 when the store answered the scrape
=============================================  =============================================

plus the client library's ``process_*`` and ``python_*`` metrics.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime
from itertools import accumulate
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from domain.events import DataQualityAlert, Event, FlightDataProcessed, RateLimitExceeded
from storage.base import StoreUnavailable
from storage.offload import offload

if TYPE_CHECKING:
    from storage.stores import Stores


class _Subscriber(Protocol):
    dropped: int


class SubscriberCounts(Protocol):
    """What ``/metrics`` reads of this process's subscriptions (``live.subscribers``)."""

    @property
    def subscribers(self) -> AbstractSet[_Subscriber]: ...


REGISTRY = CollectorRegistry(auto_describe=True)
for _default in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.register(_default)

# Small queries take a fraction of a millisecond; a page of a thousand flights, tens.
_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class LatencyHistogram(Collector):
    """A histogram with one label, kept in plain lists and read when scraped.

    Observed on the request path of every GraphQL query: a bisect and two additions,
    without the client library's per-observation locks (half the cost). Observations come
    from the event loop's thread; one racing in from another thread could at worst lose
    an increment.
    """

    def __init__(self, name: str, documentation: str, label: str, buckets: Sequence[float]):
        self.name = name
        self.documentation = documentation
        self.label = label
        self.bounds = tuple(buckets)
        self._les = [repr(float(b)) for b in self.bounds] + ["+Inf"]
        # Per label value: the count of each bucket (the last one +Inf), then the sum.
        self._series: dict[str, list[float]] = {}

    def observer(self, value: str) -> Callable[[float], None]:
        """The function that records one observation for the label ``value``."""
        series = self._series.setdefault(value, [0.0] * (len(self.bounds) + 2))
        bounds, total = self.bounds, len(self.bounds) + 1

        def observe(seconds: float) -> None:
            series[bisect_left(bounds, seconds)] += 1
            series[total] += seconds

        return observe

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, series in sorted(self._series.items()):
            counts = list(accumulate(series[:-1]))
            family.add_metric([value], list(zip(self._les, counts, strict=True)), series[-1])
        yield family


GRAPHQL_LATENCY = LatencyHistogram(
    "flightdata_graphql_request_duration_seconds",
    "Time to execute a GraphQL query or mutation over HTTP, by operation name",
    "operation",
    _LATENCY_BUCKETS,
)
REGISTRY.register(GRAPHQL_LATENCY)
RATE_LIMITED = Counter(
    "flightdata_rate_limited_requests",
    "API requests refused because the caller exceeded its rate limit",
    registry=REGISTRY,
)
INGEST_CYCLES = Counter(
    "flightdata_ingest_cycles", "Ingest cycles processed", ["source"], registry=REGISTRY
)
INGEST_RECORDS = Counter(
    "flightdata_ingest_records",
    "Records of ingest cycles, by what became of them",
    ["source", "outcome"],
    registry=REGISTRY,
)
DATA_QUALITY_ALERTS = Counter(
    "flightdata_data_quality_alerts",
    "Cycles that rejected more than the alert rate",
    ["source"],
    registry=REGISTRY,
)
UPSTREAM_RATE_LIMITED = Counter(
    "flightdata_upstream_rate_limited",
    "Times an upstream API answered that our credits or rate were exhausted",
    ["source"],
    registry=REGISTRY,
)

# At most this many distinct operation names get a series of their own: names come from
# clients, and each one costs memory in every scrape.
MAX_OPERATIONS = 200
_OPERATION = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,99}")
_children: dict[str | None, Callable[[float], None]] = {}
_extra_sinks: list[Callable[[str, float], None]] = []


def operation_label(name: object) -> str:
    """The ``operation`` label of an operationName: itself when a valid GraphQL name,
    ``anonymous`` when absent, ``invalid`` otherwise."""
    if name is None or name == "":
        return "anonymous"
    if isinstance(name, str) and _OPERATION.fullmatch(name):
        return name
    return "invalid"


def observe_graphql(operation: object, seconds: float) -> None:
    """Record one GraphQL execution (called on the request path: a dict lookup and an
    observe once the operation's series exists)."""
    # A name that is not a string (a list, a number) is keyed as "?": labelled invalid.
    key = operation if operation is None or type(operation) is str else "?"
    observe = _children.get(key)
    if observe is None:
        label = operation_label(key)
        if label != "anonymous" and len(_children) >= MAX_OPERATIONS:
            label = "other"
        observe = GRAPHQL_LATENCY.observer(label)
        if len(_children) < MAX_OPERATIONS:
            _children[key] = observe
    observe(seconds)
    for sink in _extra_sinks:
        sink(operation_label(key), seconds)


def add_graphql_sink(sink: Callable[[str, float], None]) -> None:
    """Also send each GraphQL latency to ``sink(operation label, seconds)`` (CloudWatch
    embedded metrics on Lambda)."""
    if sink not in _extra_sinks:
        _extra_sinks.append(sink)


def remove_graphql_sink(sink: Callable[[str, float], None]) -> None:
    if sink in _extra_sinks:
        _extra_sinks.remove(sink)


def record_event(event: Event) -> None:
    """Event-bus handler: counts cycles, records by outcome, alerts and upstream limits."""
    if isinstance(event, FlightDataProcessed):
        INGEST_CYCLES.labels(event.source).inc()
        for outcome in ("stored", "rejected", "duplicates"):
            INGEST_RECORDS.labels(event.source, outcome).inc(getattr(event, outcome))
    elif isinstance(event, DataQualityAlert):
        DATA_QUALITY_ALERTS.labels(event.source).inc()
    elif isinstance(event, RateLimitExceeded) and event.client is None:
        # With a client, it is the API refusing a caller (at most once a minute each):
        # RATE_LIMITED counts those refusals one by one.
        UPSTREAM_RATE_LIMITED.labels(event.source).inc()


class RuntimeCollector(Collector):
    """Reads the cache counters, the subscribers and the store's figures when scraped.

    Runs in a worker thread (``GET /metrics``); it only reads counters and sizes of the
    event loop's objects, which the GIL keeps consistent.
    """

    def __init__(self, stores: Stores, hub: SubscriberCounts | None) -> None:
        self.stores = stores
        self.hub = hub

    def collect(self) -> Iterable[Metric]:
        yield from self._cache()
        yield from self._subscriptions()
        yield from self._store()

    def _cache(self) -> Iterable[Metric]:
        cache = self.stores.cache
        if cache is None:
            return
        for name, value, doc in (
            ("hits", cache.hits, "Response-cache lookups answered from Redis"),
            ("misses", cache.misses, "Response-cache lookups computed and stored"),
            ("errors", cache.errors, "Redis failures the response cache served around"),
        ):
            yield CounterMetricFamily(f"flightdata_cache_{name}", doc, value=value)

    def _subscriptions(self) -> Iterable[Metric]:
        if self.hub is None:
            return
        subscribers = list(self.hub.subscribers)
        yield GaugeMetricFamily(
            "flightdata_subscribers", "Live GraphQL subscriptions", value=len(subscribers)
        )
        yield GaugeMetricFamily(
            "flightdata_subscription_dropped_batches",
            "Batches dropped so far for the current subscribers that read too slowly",
            value=sum(s.dropped for s in subscribers),
        )

    def _store(self) -> Iterable[Metric]:
        try:
            reasons = self.stores.dead_letters.reasons()
            cycles = self.stores.cycles.recent_cycles(1)
            newest = self.stores.flights.newest_contact()
        except StoreUnavailable:
            yield GaugeMetricFamily("flightdata_store_up", "The store answered", value=0)
            return
        yield GaugeMetricFamily("flightdata_store_up", "The store answered", value=1)
        letters = GaugeMetricFamily(
            "flightdata_dead_letters", "Dead letters kept in the store", labels=["reason"]
        )
        for reason, count in sorted(reasons.items()):
            letters.add_metric([reason], count)
        yield letters
        if cycles:
            last = cycles[0]
            records = GaugeMetricFamily(
                "flightdata_last_cycle_records",
                "Records of the newest recorded ingest cycle, by outcome",
                labels=["source", "outcome"],
            )
            for outcome in ("received", "stored", "rejected", "duplicates"):
                records.add_metric([last.source, outcome], getattr(last, outcome))
            yield records
            yield GaugeMetricFamily(
                "flightdata_last_cycle_timestamp_seconds",
                "When the newest recorded ingest cycle started",
                value=last.started_at.timestamp(),
            )
        if newest is not None:
            yield GaugeMetricFamily(
                "flightdata_newest_state_age_seconds",
                "Seconds since the last contact of the most recently heard aircraft",
                value=(datetime.now(UTC) - newest).total_seconds(),
            )


class _Shared(Collector):
    """The process-wide metrics, inside an app's own registry."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def app_registry(stores: Stores, hub: SubscriberCounts | None) -> CollectorRegistry:
    """The process-wide metrics plus those read from one app's runtime."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Shared())
    registry.register(RuntimeCollector(stores, hub))
    return registry


def routes(stores: Stores, hub: SubscriberCounts | None) -> list[Route]:
    """``GET /metrics`` for the app that owns ``stores`` and ``hub``."""
    registry = app_registry(stores, hub)

    async def metrics(request: Request) -> Response:
        # In a thread: the collectors read the store.
        body = await offload(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
