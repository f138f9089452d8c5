"""The AppSync API on local engines, for ``make run-aws-local``: the simulator
(``devtools/appsync_simulator.cjs``) over the Python handlers (``devtools.appsync_bridge``),
and a pump that hands each FlightDataProcessed event of the local bus's events queue to
the publisher, as the EventBridge rule does on AWS.

``appsync(key)`` starts both and stops them on exit; the settings must be in the
environment already (the bridge and the publisher read them on first use).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from devtools.appsync_bridge import Bridge
from runtime import appsync_lambdas

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SIMULATOR = ROOT / "devtools" / "appsync_simulator.cjs"
SCHEMA = ROOT / "appsync" / "schema.graphql"


class _Context:
    aws_request_id = "local"


@contextmanager
def appsync(key: str) -> Iterator[dict[str, str]]:
    """The simulator taking ``key``: yields ``{"appsyncUrl", "appsyncRealtimeUrl"}`` and
    sets ``APPSYNC_GRAPHQL_URL`` for the publisher."""
    bridge = Bridge().start()
    process = subprocess.Popen(
        ["node", str(SIMULATOR)],
        cwd=ROOT,
        env={
            **os.environ,
            "APPSYNC_SCHEMA": str(SCHEMA),
            "APPSYNC_BRIDGE": bridge.url,
            "APPSYNC_API_KEY": key,
        },
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the AppSync simulator did not start (npm ci installs it)")
        urls: dict[str, str] = json.loads(line)
        os.environ["APPSYNC_GRAPHQL_URL"] = urls["appsyncUrl"]
        yield urls
    finally:
        process.terminate()
        process.wait(10)
        bridge.stop()


class EventPump:
    """Publishes each FlightDataProcessed event found on ``queue_url`` (a daemon thread
    long-polling SQS). It consumes the queue: every event read is deleted."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="appsync-pump", daemon=True)

    def start(self) -> EventPump:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self._once()
            except Exception:
                log.exception("publishing to the local AppSync failed")
                self.stopped.wait(1.0)

    def _once(self) -> None:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in received.get("Messages", []):
            event = json.loads(message["Body"])
            if event.get("detail-type") == "FlightDataProcessed":
                summary = appsync_lambdas.publisher(event, _Context())
                log.info("published %s to AppSync: %s", summary["cycle_id"], summary)
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
