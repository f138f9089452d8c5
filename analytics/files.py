"""Where analytics reads and writes: the processed Parquet and JSON documents beside it.

Both live under the data directory (embedded default) or in the bucket ``S3_RAW_BUCKET``
names (where ``runtime.ingest.build_processed_writer`` puts the Parquet), at the same
keys: ``processed/flights/year=YYYY/month=MM/day=DD/region=NAME/part-*.parquet``, and the
documents of ``analytics.daily``.

Parquet in S3 is read through ``pyarrow.fs.S3FileSystem``, signed with the credentials
boto3 resolves (so a Lambda role and the moto server's keys work alike), at
``AWS_ENDPOINT_URL`` when set, listing only ``processed/flights/...`` prefixes as the
analytics role allows. Vendor errors become ``S3Unavailable`` (a ``StoreUnavailable``); a
day without files is an empty relation, a missing document ``None``. pyarrow is imported
when Parquet is read, not with this module: the documents are read without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from analytics.engine import Relation
from storage.base import StoreUnavailable
from storage.s3 import S3Unavailable, error_code

if TYPE_CHECKING:
    from config import Settings
    from storage.s3 import S3ClientLike

FLIGHTS_PREFIX = "processed/flights/"
_PARTITIONS = ("year", "month", "day")


def day_prefix(day: date) -> str:
    return f"{FLIGHTS_PREFIX}year={day:%Y}/month={day:%m}/day={day:%d}/"


def _schema() -> Any:
    import pyarrow as pa

    from storage.processed import SCHEMA

    return pa.schema([*SCHEMA, *(pa.field(name, pa.string()) for name in _PARTITIONS)])


class ProcessedFiles:
    """The processed Parquet under ``base``, a directory of the filesystem ``filesystem()``
    makes (a local directory, or ``bucket/prefix`` in S3). Thread-safe.

    A day is one listing: its files become fragments with their sizes (so no per-file
    HEAD request on S3) and their ``year``/``month``/``day`` partition values, which the
    dataset gives as columns, as Athena gives its partition columns.
    """

    def __init__(self, filesystem: Callable[[], Any], base: str) -> None:
        self._filesystem = filesystem
        self.base = base.rstrip("/")

    def filesystem(self) -> Any:
        """A pyarrow filesystem of ``base``."""
        return self._filesystem()

    def dataset(self, days: Sequence[date]) -> Relation:
        """The processed states of ``days`` (an empty table when they have none)."""
        import pyarrow.dataset as ds

        fs = self._filesystem()
        parquet = ds.ParquetFileFormat()
        fragments = []
        for day in days:
            partition = (
                (ds.field("year") == f"{day:%Y}")
                & (ds.field("month") == f"{day:%m}")
                & (ds.field("day") == f"{day:%d}")
            )
            for info in self._files(fs, f"{self.base}/{day_prefix(day)}"):
                fragments.append(
                    parquet.make_fragment(
                        info.path, fs, partition_expression=partition, file_size=info.size
                    )
                )
        schema = _schema()
        if not fragments:
            return schema.empty_table()
        return ds.FileSystemDataset(fragments, schema=schema, format=parquet, filesystem=fs)

    def _files(self, fs: Any, directory: str) -> list[Any]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(directory, recursive=True, allow_not_found=True)
        try:
            found = fs.get_file_info(selector)
        except OSError as exc:
            raise StoreUnavailable(f"listing {directory} failed: {exc}") from exc
        parts = [i for i in found if i.type == pafs.FileType.File and _is_part(i.base_name)]
        return sorted(parts, key=lambda i: i.path)


def _is_part(name: str) -> bool:
    return name.startswith("part-") and name.endswith(".parquet")


class ObjectStore(Protocol):
    """JSON documents by key: the daily summaries and the day's larger lists."""

    def get(self, key: str) -> bytes | None:
        """The document at ``key``; ``None`` when there is none."""
        ...

    def put(self, key: str, data: bytes) -> None: ...


def _local_filesystem() -> Any:
    import pyarrow.fs as pafs

    return pafs.LocalFileSystem()


class LocalProcessed(ProcessedFiles):
    def __init__(self, root: Path) -> None:
        super().__init__(_local_filesystem, str(root.resolve()))


class S3Processed(ProcessedFiles):
    """``filesystem`` makes a pyarrow S3 filesystem for each read (cheap once pyarrow's AWS
    SDK is up), so each read signs with the credentials of the moment."""

    def __init__(self, filesystem: Callable[[], Any], bucket: str, *, prefix: str = "") -> None:
        super().__init__(filesystem, f"{bucket}/{prefix.strip('/')}")


class S3Filesystems:
    """Makes pyarrow S3 filesystems signed with what one boto3 session resolves (and
    refreshes, for a role), at a region and an optional endpoint. Thread-safe."""

    def __init__(self, region: str, endpoint_url: str = "") -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session: Any = None

    def __call__(self) -> Any:
        import pyarrow.fs as pafs

        if self._session is None:
            import boto3

            self._session = boto3.session.Session()
        found = self._session.get_credentials()
        frozen = None if found is None else found.get_frozen_credentials()
        options: dict[str, Any] = {"region": self.region, "connect_timeout": 5}
        options["request_timeout"] = 30
        if frozen is None:
            options["anonymous"] = True
        else:
            options["access_key"] = frozen.access_key
            options["secret_key"] = frozen.secret_key
            options["session_token"] = frozen.token
        if self.endpoint_url:
            parts = urlsplit(self.endpoint_url)
            options["endpoint_override"] = parts.netloc
            options["scheme"] = parts.scheme or "https"
        return pafs.S3FileSystem(**options)


class LocalObjects:
    """Documents under a directory, written atomically (a reader never sees half a file)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def get(self, key: str) -> bytes | None:
        try:
            return (self.root / key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)


class S3Objects:
    """Documents in a bucket. Thread-safe. ``client`` makes the S3 client on first use (a
    boto3 client takes tens of milliseconds to make; most requests never read one)."""

    def __init__(
        self, client: Callable[[], S3ClientLike], bucket: str, *, prefix: str = ""
    ) -> None:
        self._make_client = client
        self._client: S3ClientLike | None = None
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @property
    def client(self) -> S3ClientLike:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    def get(self, key: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
            data: bytes = answer["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise self._unavailable("get", key, exc) from exc
        except BotoCoreError as exc:
            raise self._unavailable("get", key, exc) from exc
        return data

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + key,
                Body=data,
                ContentType="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._unavailable("put", key, exc) from exc

    def _unavailable(self, action: str, key: str, exc: Exception) -> S3Unavailable:
        return S3Unavailable(
            f"S3 {action} s3://{self.bucket}/{self.prefix}{key} failed: {exc}",
            bucket=self.bucket,
            key=self.prefix + key,
            code=error_code(exc),
        )


def processed_files(settings: Settings) -> ProcessedFiles:
    """Where ``runtime.ingest.build_processed_writer`` writes for these settings."""
    if not settings.s3_raw_bucket:
        return LocalProcessed(settings.data_dir)
    filesystems = S3Filesystems(settings.aws_region, settings.aws_endpoint_url)
    return S3Processed(filesystems, settings.s3_raw_bucket)


def object_store(settings: Settings) -> ObjectStore:
    """Documents beside the Parquet: in the data directory, or in ``S3_RAW_BUCKET``."""
    if not settings.s3_raw_bucket:
        return LocalObjects(settings.data_dir)
    from storage.aws import aws_client

    return S3Objects(lambda: aws_client(settings, "s3"), settings.s3_raw_bucket)
