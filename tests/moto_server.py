"""The moto server for the AWS service tests: one per test session, real HTTP on loopback.

``python -m moto.server`` runs as a subprocess on a free ``127.0.0.1`` port, so the code
under test makes the same boto3 calls over the same wire as in production; only the
endpoint differs. A subprocess rather than moto's in-process server: moto's imports stay
out of the test process (where warnings are errors), and its log goes to a file instead
of a pipe that could fill up and stall it.

Test modules load the fixtures with ``pytest_plugins = ["moto_server"]`` and import this
module only under ``TYPE_CHECKING`` (pytest must import it first, to rewrite its asserts):

- ``moto_server`` (session): the running server. For the session the environment has
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` = ``testing``, region ``eu-west-1`` and
  no shared AWS config, so nothing can reach a real account.
- ``aws``: the same server with every service emptied (``/moto-api/reset``) for the test.

When the server cannot start, ``MotoServerError`` is raised: the tests that need it
error, they never skip.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import IO, TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cloudformation.client import CloudFormationClient
    from mypy_boto3_cloudfront.client import CloudFrontClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_ssm.client import SSMClient

REGION = "eu-west-1"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
# Anything that could point boto3 somewhere else than the endpoint a test gives it.
AWS_ENV_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_SECURITY_TOKEN")
# A failed call fails fast: tests point clients at dead ports on purpose.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=10
)


class MotoServerError(RuntimeError):
    """The moto server did not start; the message has the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MotoServer:
    """A moto server subprocess; ``start`` returns once it answers HTTP."""

    region = REGION

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        command: Sequence[str] | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.host = host
        self.command = list(command or [sys.executable, "-m", "moto.server", "-H", host])
        self.start_timeout_s = start_timeout_s
        self.port = 0
        self.started_in_s = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._session = boto3.session.Session(
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        started = time.perf_counter()
        # The port is free when chosen but another process may take it before moto
        # binds it: try again on a new port, a few times.
        for _ in range(3):
            self.port = free_port(self.host)
            # Lives as long as the server; closed by ``stop``.
            self._log = tempfile.TemporaryFile()  # noqa: SIM115
            self._process = subprocess.Popen(
                [*self.command, "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            if self._wait_ready():
                self.started_in_s = time.perf_counter() - started
                return
            log = self._log_tail()
            self.stop()
            if "Address already in use" not in log:
                break
        raise MotoServerError(f"moto server did not start ({self.command}):\n{log}")

    def _wait_ready(self) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return True
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        return False

    def _log_tail(self, size: int = 4000) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-size:]

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def dead_endpoint() -> str:
        """An endpoint on a loopback port nothing listens on: connections are refused."""
        return f"http://127.0.0.1:{free_port()}"

    def reset(self) -> None:
        """Empty every service (buckets, queues, buses, parameters)."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # Real boto3 clients; ``endpoint_url`` overrides the server's (a dead one, for faults).

    def s3(self, endpoint_url: str | None = None) -> S3Client:
        return self._session.client(
            "s3", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )

    def sqs(self, endpoint_url: str | None = None) -> SQSClient:
        return self._session.client(
            "sqs", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )

    def events(self, endpoint_url: str | None = None) -> EventBridgeClient:
        return self._session.client(
            "events", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )

    def ssm(self, endpoint_url: str | None = None) -> SSMClient:
        return self._session.client(
            "ssm", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )

    def cloudformation(self, endpoint_url: str | None = None) -> CloudFormationClient:
        return self._session.client(
            "cloudformation", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )

    def cloudfront(self, endpoint_url: str | None = None) -> CloudFrontClient:
        return self._session.client(
            "cloudfront", endpoint_url=endpoint_url or self.endpoint_url, config=CLIENT_CONFIG
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        for name in AWS_ENV_UNSET:
            env.delenv(name, raising=False)
        with MotoServer() as server:
            yield server


@pytest.fixture
def aws(moto_server: MotoServer) -> MotoServer:
    """The session's moto server, emptied for this test."""
    moto_server.reset()
    return moto_server
