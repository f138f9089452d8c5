"""The raw archive and the Parquet sink on S3, against the moto server over HTTP."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
import pytest

from storage.archive import ArchivedBody, LocalArchive
from storage.base import StoreUnavailable
from storage.processed import ProcessedWriter
from storage.s3 import S3Archive, S3Sink, S3Unavailable
from testkit import FIXTURES, T0, make_state

if TYPE_CHECKING:
    from moto_server import MotoServer
    from mypy_boto3_s3.client import S3Client

pytest_plugins = ["moto_server"]

BUCKET = "flightdata-test-data"
BODY = (FIXTURES / "opensky_states_small_4_18field.json").read_bytes()
AT = datetime(2024, 1, 15, 14, 5, 9, 250_000, tzinfo=UTC)
KEY = "raw/year=2024/month=01/day=15/hour=14/flights-20240115-140509.json.gz"


@pytest.fixture
def s3(aws: MotoServer) -> S3Client:
    client = aws.s3()
    client.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    return client


@pytest.fixture
def archive(s3: S3Client) -> S3Archive:
    return S3Archive(s3, BUCKET)


def _count_calls(client: Any, operation: str) -> list[str]:
    """Requests the client sends for ``operation``, recorded by a botocore event hook."""
    sent: list[str] = []
    client.meta.events.register(
        f"before-send.s3.{operation}", lambda request, **_: sent.append(request.url)
    )
    return sent


def test_round_trip_keeps_body_source_and_time(archive: S3Archive) -> None:
    key = archive.put(BODY, source="opensky", received_at=AT)

    assert key == KEY
    assert archive.get(key) == ArchivedBody(key=KEY, source="opensky", received_at=AT, body=BODY)


def test_object_is_gzip_bytes_with_metadata(archive: S3Archive, s3: S3Client) -> None:
    archive.put(BODY, source="opensky", received_at=AT)

    stored = s3.get_object(Bucket=BUCKET, Key=KEY)

    assert stored["ContentType"] == "application/gzip"
    assert "ContentEncoding" not in stored
    assert stored["Metadata"] == {"source": "opensky", "received-at": AT.isoformat()}
    assert gzip.decompress(stored["Body"].read()) == BODY


def test_keys_are_those_of_the_local_archive(archive: S3Archive, tmp_path: Path) -> None:
    local = LocalArchive(tmp_path)

    s3_keys = [archive.put(BODY, source="opensky", received_at=AT) for _ in range(3)]
    local_keys = [local.put(BODY, source="opensky", received_at=AT) for _ in range(3)]

    assert s3_keys == local_keys


def test_same_second_bodies_get_suffixes_and_keep_their_own_bodies(archive: S3Archive) -> None:
    keys = [archive.put(b"body %d" % i, source="opensky", received_at=AT) for i in range(3)]

    assert keys == [KEY, KEY.replace(".json.gz", "-1.json.gz"), KEY.replace(".json", "-2.json")]
    assert [archive.get(key).body for key in keys] == [b"body 0", b"body 1", b"body 2"]


def test_a_key_another_writer_took_is_left_alone(archive: S3Archive, s3: S3Client) -> None:
    # Another machine archived a body in the same second first: the conditional put is
    # refused and ours takes the next suffix instead of overwriting theirs.
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=gzip.compress(b"theirs"))

    key = archive.put(b"ours", source="opensky", received_at=AT)

    assert key == KEY.replace(".json.gz", "-1.json.gz")
    assert archive.get(KEY).body == b"theirs"
    assert archive.get(key).body == b"ours"


def test_keys_span_an_hour_boundary_oldest_first(archive: S3Archive) -> None:
    hour = datetime(2024, 1, 15, 14, tzinfo=UTC)
    times = [hour + timedelta(seconds=s) for s in (-3601, -2, 1, 1800, 3600, 3601)]
    keys = {at: archive.put(BODY, source="opensky", received_at=at) for at in reversed(times)}

    found = archive.keys(hour - timedelta(seconds=2), hour + timedelta(hours=1))

    assert found == [keys[at] for at in times[1:5]]
    assert found[0].startswith("raw/year=2024/month=01/day=15/hour=13/")
    assert found[-1].startswith("raw/year=2024/month=01/day=15/hour=15/")


def test_keys_of_one_second_are_in_arrival_order(archive: S3Archive) -> None:
    keys = [archive.put(BODY, source="opensky", received_at=AT) for _ in range(11)]

    # By suffix as a number: -2 before -10, and the unsuffixed first.
    assert archive.keys(AT - timedelta(seconds=1), AT + timedelta(seconds=1)) == keys


def test_keys_follow_continuation_tokens(s3: S3Client) -> None:
    archive = S3Archive(s3, BUCKET, page_size=2)
    keys = [
        archive.put(BODY, source="opensky", received_at=AT + timedelta(seconds=s)) for s in range(5)
    ]
    listed = _count_calls(s3, "ListObjectsV2")

    assert archive.keys(AT - timedelta(seconds=1), AT + timedelta(seconds=5)) == keys
    assert len(listed) == 3


def test_prefix_goes_on_object_keys_only(s3: S3Client) -> None:
    archive = S3Archive(s3, BUCKET, prefix="/archive/")
    S3Archive(s3, BUCKET).put(b"not under the prefix", source="opensky", received_at=AT)

    key = archive.put(BODY, source="opensky", received_at=AT)

    assert key == KEY
    assert s3.head_object(Bucket=BUCKET, Key=f"archive/{KEY}")["ContentLength"] > 0
    assert archive.get(key).body == BODY
    assert archive.keys(AT - timedelta(seconds=1), AT) == [KEY]


def test_any_source_name_round_trips(archive: S3Archive) -> None:
    source = "file:/srv/données/états 1.json"

    key = archive.put(BODY, source=source, received_at=AT)

    assert archive.get(key).source == source


def test_body_copied_in_without_metadata_is_dated_by_its_key(
    archive: S3Archive, s3: S3Client
) -> None:
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=gzip.compress(BODY))

    body = archive.get(KEY)

    assert (body.source, body.received_at, body.body) == (
        "unknown",
        AT.replace(microsecond=0),
        BODY,
    )


def test_missing_key_is_file_not_found(archive: S3Archive) -> None:
    with pytest.raises(FileNotFoundError):
        archive.get(KEY)


@pytest.mark.parametrize("key", ["processed/flights/part.parquet", "raw/../secret", "/etc/passwd"])
def test_keys_outside_the_archive_are_refused(archive: S3Archive, key: str) -> None:
    with pytest.raises(FileNotFoundError):
        archive.get(key)


def test_parquet_sink_writes_a_readable_file(s3: S3Client) -> None:
    states = [
        make_state(f"abc{i:03d}", T0 + timedelta(seconds=i), region="europe") for i in range(5)
    ]
    writer = ProcessedWriter(S3Sink(s3, BUCKET))
    writer.add(states)

    [key] = writer.flush()

    assert key.startswith("processed/flights/year=2024/month=06/day=01/region=europe/part-")
    stored = s3.get_object(Bucket=BUCKET, Key=key)
    assert stored["ContentType"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(stored["Body"].read()))
    assert table.column("icao24").to_pylist() == [s.icao24 for s in states]
    assert table.column("region").to_pylist() == ["europe"] * 5


def test_unreachable_s3_is_store_unavailable(aws: MotoServer) -> None:
    archive = S3Archive(aws.s3(aws.dead_endpoint()), BUCKET)
    sink = S3Sink(aws.s3(aws.dead_endpoint()), BUCKET)

    with pytest.raises(S3Unavailable) as put:
        archive.put(BODY, source="opensky", received_at=AT)
    with pytest.raises(StoreUnavailable):
        archive.get(KEY)
    with pytest.raises(StoreUnavailable):
        archive.keys(AT, AT)
    with pytest.raises(StoreUnavailable):
        sink.write("processed/flights/x.parquet", b"PAR1")

    # An OSError, which the ingest loop already survives (it processes without a copy).
    assert isinstance(put.value, OSError)
    assert (put.value.bucket, put.value.key, put.value.code) == (BUCKET, KEY, None)
    assert isinstance(put.value.__cause__, Exception)


def test_missing_bucket_is_store_unavailable_with_s3s_code(aws: MotoServer) -> None:
    archive = S3Archive(aws.s3(), "no-such-bucket")

    with pytest.raises(S3Unavailable) as put:
        archive.put(BODY, source="opensky", received_at=AT)
    with pytest.raises(S3Unavailable) as listed:
        archive.keys(AT, AT)

    assert put.value.code == listed.value.code == "NoSuchBucket"
