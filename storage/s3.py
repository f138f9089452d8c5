"""The raw archive and the Parquet sink on S3, with the same keys as the local layout.

``S3Archive`` stores each body gzip-compressed (``ContentType: application/gzip``; not
``ContentEncoding: gzip``, so no HTTP client ever inflates it on the way) at
``raw/year=YYYY/month=MM/day=DD/hour=HH/flights-YYYYMMDD-HHMMSS.json.gz``. Keys given to
and returned by the archive are these logical keys; an optional ``prefix`` is added only to
the S3 object key, so the same message can name a body on any backend.

Object metadata holds ``source`` (percent-encoded: S3 metadata is ASCII only, and a
``file:`` source may name any path) and ``received-at`` (ISO 8601). A dash, not an
underscore, because some HTTP proxies drop header names with underscores.

A second body in the same second gets ``-1``, ``-2``... before the extension. Writers never
overwrite each other: each put is conditional (``If-None-Match: *``) and a refused put
moves on to the next suffix, so concurrent writers on different machines are safe without
a lock.

Every vendor error becomes ``S3Unavailable`` (a ``StoreUnavailable``, so an ``OSError``);
a missing key is ``FileNotFoundError``, as in ``LocalArchive``.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote

from botocore.exceptions import BotoCoreError, ClientError

from storage.archive import ArchivedBody, hours_between, key_order, raw_key, raw_prefix
from storage.base import StoreUnavailable

if TYPE_CHECKING:
    from typing import Unpack

    from mypy_boto3_s3.type_defs import (
        GetObjectOutputTypeDef,
        GetObjectRequestTypeDef,
        ListObjectsV2OutputTypeDef,
        ListObjectsV2RequestTypeDef,
        PutObjectOutputTypeDef,
        PutObjectRequestTypeDef,
    )

GZIP_CONTENT_TYPE = "application/gzip"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# Far more than any source sends in one second; a bound so a misbehaving endpoint that
# refuses every conditional put cannot loop forever.
MAX_SAME_SECOND = 1000

# 412: the key exists. 409: another conditional write to the key is in flight; its body
# will take the key, so ours takes the next one.
_TAKEN = {"PreconditionFailed", "ConditionalRequestConflict"}
_MISSING = {"NoSuchKey", "404"}


class S3ClientLike(Protocol):
    """The S3 calls the archive and the sink make (a boto3 ``S3Client`` fits)."""

    def put_object(self, **kwargs: Unpack[PutObjectRequestTypeDef]) -> PutObjectOutputTypeDef: ...

    def get_object(self, **kwargs: Unpack[GetObjectRequestTypeDef]) -> GetObjectOutputTypeDef: ...

    def list_objects_v2(
        self, **kwargs: Unpack[ListObjectsV2RequestTypeDef]
    ) -> ListObjectsV2OutputTypeDef: ...


class S3Unavailable(StoreUnavailable):
    """An S3 call failed; ``code`` is S3's error code, or ``None`` when S3 was not reached."""

    def __init__(self, message: str, *, bucket: str, key: str, code: str | None) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code


def error_code(exc: BaseException) -> str | None:
    """S3's error code of a ``ClientError``; ``None`` for an error before any answer."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) or None
    return None


def _unavailable(action: str, bucket: str, key: str, exc: Exception) -> S3Unavailable:
    return S3Unavailable(
        f"S3 {action} s3://{bucket}/{key} failed: {exc}",
        bucket=bucket,
        key=key,
        code=error_code(exc),
    )


def _object_prefix(prefix: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/" if prefix else ""


class S3Archive:
    """``RawArchive`` on an S3 bucket. Thread-safe (boto3 clients are)."""

    def __init__(
        self, client: S3ClientLike, bucket: str, *, prefix: str = "", page_size: int = 1000
    ) -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = _object_prefix(prefix)
        self.page_size = page_size

    def put(self, body: bytes, *, source: str, received_at: datetime) -> str:
        data = gzip.compress(body, compresslevel=5)
        metadata = {"source": quote(source, safe=":/@"), "received-at": received_at.isoformat()}
        for attempt in range(MAX_SAME_SECOND):
            key = raw_key(received_at, attempt)
            try:
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=self.prefix + key,
                    Body=data,
                    ContentType=GZIP_CONTENT_TYPE,
                    Metadata=metadata,
                    IfNoneMatch="*",
                )
            except ClientError as exc:
                # A put whose answer was lost and that botocore retried comes back 412 as
                # well: that body is then kept twice, which the idempotent store absorbs.
                if error_code(exc) in _TAKEN:
                    continue
                raise _unavailable("put", self.bucket, self.prefix + key, exc) from exc
            except BotoCoreError as exc:
                raise _unavailable("put", self.bucket, self.prefix + key, exc) from exc
            return key
        raise S3Unavailable(
            f"{MAX_SAME_SECOND} bodies already archived in the second of {received_at}",
            bucket=self.bucket,
            key=self.prefix + raw_key(received_at),
            code=None,
        )

    def get(self, key: str) -> ArchivedBody:
        if not key.startswith("raw/") or ".." in key.split("/"):
            raise FileNotFoundError(key)
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            data = answer["Body"].read()
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise FileNotFoundError(key) from exc
            raise _unavailable("get", self.bucket, self.prefix + key, exc) from exc
        except BotoCoreError as exc:
            raise _unavailable("get", self.bucket, self.prefix + key, exc) from exc
        meta = answer.get("Metadata", {})
        return ArchivedBody(
            key=key,
            # A body copied in by hand has no metadata: its name still says when it came.
            source=unquote(meta.get("source", "unknown")),
            received_at=_received_at(meta.get("received-at"), key),
            body=gzip.decompress(data),
        )

    def keys(self, start: datetime, end: datetime) -> list[str]:
        found: list[tuple[tuple[datetime, int], str]] = []
        for hour in hours_between(start, end):
            for key in self._list(raw_prefix(hour) + "flights-"):
                order = key_order(key.rsplit("/", 1)[-1])
                if order is not None and start <= order[0] <= end:
                    found.append((order, key))
        return [key for _, key in sorted(found)]

    def _list(self, prefix: str) -> Iterator[str]:
        """Logical keys under ``prefix``, following S3's continuation tokens."""
        request: ListObjectsV2RequestTypeDef = {
            "Bucket": self.bucket,
            "Prefix": self.prefix + prefix,
            "MaxKeys": self.page_size,
        }
        while True:
            try:
                page = self._client.list_objects_v2(**request)
            except (BotoCoreError, ClientError) as exc:
                raise _unavailable("list", self.bucket, self.prefix + prefix, exc) from exc
            for item in page.get("Contents", []):
                yield item["Key"].removeprefix(self.prefix)
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]


def _received_at(raw: str | None, key: str) -> datetime:
    if raw:
        return datetime.fromisoformat(raw)
    order = key_order(key.rsplit("/", 1)[-1])
    if order is None:
        raise FileNotFoundError(key)
    return order[0]


class S3Sink:
    """``ObjectSink`` on an S3 bucket, for the Parquet files of ``ProcessedWriter``."""

    def __init__(self, client: S3ClientLike, bucket: str, *, prefix: str = "") -> None:
        self._client = client
        self.bucket = bucket
        self.prefix = _object_prefix(prefix)

    def write(self, key: str, data: bytes) -> None:
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType=PARQUET_CONTENT_TYPE,
            )
        except (BotoCoreError, ClientError) as exc:
            raise _unavailable("put", self.bucket, self.prefix + key, exc) from exc
