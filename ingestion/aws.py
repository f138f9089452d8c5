"""The ingest side on AWS: the SQS processing queue, the EventBridge bus, SSM parameters.

- ``SqsQueue`` is the fetcher's ``ProcessingQueue``: each message a JSON body. A message
  that cannot be sent raises ``AwsUnavailable``: the body is archived but nobody will
  process it, so the invocation must fail loudly.
- ``EventBridgeBus`` is an ``EventBus``: each event becomes one entry with ``Source``
  (``flightdata``), ``DetailType`` (the event's name), ``Detail`` (``event.detail()`` as
  JSON) and ``Time`` (the event's time). Events are telemetry, so publishing never raises:
  failures are logged and counted.
- ``SsmParameters`` / ``ssm_credentials`` read SecureString parameters (the OpenSky
  credentials, ``/flightdata/{stage}/opensky/client_id``..., the ADS-B Exchange key
  ``/flightdata/{stage}/adsbx/api_key``) with decryption and keep them
  for a TTL, so a warm Lambda asks SSM at most once per TTL.

Clients come in through the constructors (boto3 clients fit the ``...Like`` protocols).
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from config import ConfigError
from domain.events import Event
from storage.base import StoreUnavailable

if TYPE_CHECKING:
    from typing import Unpack

    from mypy_boto3_events.type_defs import (
        PutEventsRequestEntryTypeDef,
        PutEventsRequestTypeDef,
        PutEventsResponseTypeDef,
    )
    from mypy_boto3_sqs.type_defs import SendMessageRequestTypeDef, SendMessageResultTypeDef
    from mypy_boto3_ssm.type_defs import GetParametersRequestTypeDef, GetParametersResultTypeDef

log = logging.getLogger(__name__)

EVENT_SOURCE = "flightdata"
# PutEvents takes at most 10 entries and 256 KiB per call; GetParameters 10 names.
MAX_EVENTS_PER_CALL = 10
MAX_EVENTS_BYTES = 256 * 1024
MAX_PARAMETERS_PER_CALL = 10
# EventBridge counts a Time field as 14 bytes.
_TIME_BYTES = 14

AWS_ERRORS = (BotoCoreError, ClientError)


class SqsClientLike(Protocol):
    def send_message(
        self, **kwargs: Unpack[SendMessageRequestTypeDef]
    ) -> SendMessageResultTypeDef: ...


class EventBridgeClientLike(Protocol):
    def put_events(self, **kwargs: Unpack[PutEventsRequestTypeDef]) -> PutEventsResponseTypeDef: ...


class SsmClientLike(Protocol):
    def get_parameters(
        self, **kwargs: Unpack[GetParametersRequestTypeDef]
    ) -> GetParametersResultTypeDef: ...


class AwsUnavailable(StoreUnavailable):
    """An AWS call failed; ``code`` is the service's error code, ``None`` when the service
    was not reached. ``resource`` names what was called (a queue URL, parameter names)."""

    def __init__(self, message: str, *, service: str, resource: str, code: str | None) -> None:
        super().__init__(message)
        self.service = service
        self.resource = resource
        self.code = code


class ParameterMissing(ConfigError):
    """Required SSM parameters do not exist; ``names`` lists them."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"SSM parameters not found: {', '.join(names)}")
        self.names = tuple(names)


def _code(exc: Exception) -> str | None:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def _unavailable(service: str, resource: str, exc: Exception) -> AwsUnavailable:
    return AwsUnavailable(
        f"{service} call for {resource} failed: {exc}",
        service=service,
        resource=resource,
        code=_code(exc),
    )


class SqsQueue:
    """``ProcessingQueue`` on an SQS queue. Thread-safe (boto3 clients are)."""

    def __init__(self, client: SqsClientLike, queue_url: str) -> None:
        self._client = client
        self.queue_url = queue_url

    def send(self, message: Mapping[str, Any]) -> None:
        body = orjson.dumps(message).decode()
        try:
            self._client.send_message(QueueUrl=self.queue_url, MessageBody=body)
        except AWS_ERRORS as exc:
            raise _unavailable("sqs", self.queue_url, exc) from exc


class EventBridgeBus:
    """``EventBus`` on an EventBridge bus; ``sent`` and ``failed`` count events.

    Never raises into the publisher. Thread-safe.
    """

    def __init__(
        self, client: EventBridgeClientLike, bus_name: str, *, source: str = EVENT_SOURCE
    ) -> None:
        self._client = client
        self.bus_name = bus_name
        self.source = source
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()

    def publish(self, event: Event) -> None:
        self.publish_many([event])

    def publish_many(self, events: Iterable[Event]) -> int:
        """Publish ``events`` in as few calls as the limits allow; returns how many were
        accepted."""
        entries = [entry for event in events if (entry := self._entry(event)) is not None]
        return sum(self._put(batch) for batch in _batches(entries))

    def _entry(self, event: Event) -> PutEventsRequestEntryTypeDef | None:
        try:
            detail = orjson.dumps(event.detail()).decode()
        except TypeError as exc:
            self._reject(event.detail_type, f"detail is not JSON: {exc}")
            return None
        entry: PutEventsRequestEntryTypeDef = {
            "Source": self.source,
            "DetailType": event.detail_type,
            "Detail": detail,
            "EventBusName": self.bus_name,
            "Time": event.at,
        }
        if _entry_bytes(entry) > MAX_EVENTS_BYTES:
            # EventBridge would refuse the whole call; better to lose this event alone.
            self._reject(event.detail_type, f"{_entry_bytes(entry)} bytes is over the limit")
            return None
        return entry

    def _reject(self, detail_type: str, why: str) -> None:
        log.warning("%s not published to %s: %s", detail_type, self.bus_name, why)
        self._count(sent=0, failed=1)

    def _put(self, batch: list[PutEventsRequestEntryTypeDef]) -> int:
        try:
            answer = self._client.put_events(Entries=batch)
        except AWS_ERRORS as exc:
            log.warning("%d events not published to %s: %s", len(batch), self.bus_name, exc)
            self._count(sent=0, failed=len(batch))
            return 0
        failed = answer.get("FailedEntryCount", 0)
        if failed:
            codes = Counter(e["ErrorCode"] for e in answer.get("Entries", []) if "ErrorCode" in e)
            log.warning(
                "EventBridge refused %d of %d events on %s: %s",
                failed,
                len(batch),
                self.bus_name,
                dict(codes),
            )
        self._count(sent=len(batch) - failed, failed=failed)
        return len(batch) - failed

    def _count(self, *, sent: int, failed: int) -> None:
        with self._lock:
            self.sent += sent
            self.failed += failed


def _entry_bytes(entry: PutEventsRequestEntryTypeDef) -> int:
    """An entry's size as EventBridge measures it against its 256 KiB limit."""
    text = entry.get("Source", "") + entry.get("DetailType", "") + entry.get("Detail", "")
    return len(text.encode()) + (_TIME_BYTES if "Time" in entry else 0)


def _batches(
    entries: Sequence[PutEventsRequestEntryTypeDef],
) -> Iterator[list[PutEventsRequestEntryTypeDef]]:
    batch: list[PutEventsRequestEntryTypeDef] = []
    size = 0
    for entry in entries:
        entry_size = _entry_bytes(entry)
        if batch and (len(batch) == MAX_EVENTS_PER_CALL or size + entry_size > MAX_EVENTS_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += entry_size
    if batch:
        yield batch


def opensky_parameter_names(prefix: str) -> dict[str, str]:
    """The OpenSky OAuth2 credentials under ``prefix`` (``/flightdata/{stage}``), keyed by
    the settings fields they fill."""
    prefix = prefix.rstrip("/")
    return {
        "opensky_client_id": f"{prefix}/opensky/client_id",
        "opensky_client_secret": f"{prefix}/opensky/client_secret",
    }


def adsbx_parameter_names(prefix: str) -> dict[str, str]:
    """The ADS-B Exchange API key under ``prefix``, keyed by the settings field it fills."""
    return {"adsbx_api_key": f"{prefix.rstrip('/')}/adsbx/api_key"}


class SsmParameters:
    """Parameters read with decryption and kept for ``ttl_s`` seconds of ``clock``.

    A parameter that does not exist is remembered as missing for the TTL too, so a missing
    optional parameter costs one request per TTL, not one per call. Thread-safe: a read
    that misses the cache holds the lock while it asks SSM, so concurrent callers ask once.
    """

    def __init__(
        self,
        client: SsmClientLike,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.ttl_s = ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    def get(self, names: Mapping[str, str], *, required: bool = True) -> dict[str, str]:
        """Values of the parameters ``names`` maps to, under the same keys.

        Raises ``ParameterMissing`` when a parameter does not exist and ``required``; else
        its key is left out. Raises ``AwsUnavailable`` when SSM cannot answer.
        """
        with self._lock:
            now = self._clock()
            stale = [n for n in dict.fromkeys(names.values()) if self._expired(n, now)]
            for start in range(0, len(stale), MAX_PARAMETERS_PER_CALL):
                self._fetch(stale[start : start + MAX_PARAMETERS_PER_CALL], now)
            values = {key: self._cache[name][0] for key, name in names.items()}
        missing = sorted(names[key] for key, value in values.items() if value is None)
        if missing and required:
            raise ParameterMissing(missing)
        return {key: value for key, value in values.items() if value is not None}

    def _expired(self, name: str, now: float) -> bool:
        cached = self._cache.get(name)
        return cached is None or now >= cached[1]

    def _fetch(self, names: list[str], now: float) -> None:
        try:
            answer = self._client.get_parameters(Names=names, WithDecryption=True)
        except AWS_ERRORS as exc:
            raise _unavailable("ssm", ", ".join(names), exc) from exc
        expires = now + self.ttl_s
        for name in answer.get("InvalidParameters", []):
            self._cache[name] = (None, expires)
        for parameter in answer.get("Parameters", []):
            self._cache[parameter["Name"]] = (parameter["Value"], expires)


# One cache per client, dropped with the client: callers need not keep an SsmParameters.
_caches: weakref.WeakKeyDictionary[SsmClientLike, SsmParameters] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def ssm_credentials(
    client: SsmClientLike, names: Mapping[str, str], *, ttl_s: float = 300.0, required: bool = True
) -> dict[str, str]:
    """SecureString parameters, decrypted, cached per client for ``ttl_s`` seconds.

    ``names`` maps result keys (settings fields such as ``opensky_client_id``) to parameter
    names; see ``SsmParameters.get`` for ``required`` and the errors.
    """
    with _caches_lock:
        cache = _caches.get(client)
        if cache is None:
            cache = _caches[client] = SsmParameters(client, ttl_s=ttl_s)
        cache.ttl_s = ttl_s
    return cache.get(names, required=required)
