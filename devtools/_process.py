"""Engines on a free port that do not outlive the process that started them."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys


def dies_with_parent(argv: list[str]) -> list[str]:
    """``argv`` run so that the engine gets SIGTERM when the process that started it dies,
    even by SIGKILL or a crash, when no ``finally`` or ``atexit`` runs: on Linux through
    util-linux's ``setpriv --pdeathsig`` (exec'd in place, so the process is the engine's),
    elsewhere unchanged. The signal follows the starting thread: start engines from a
    thread that lives as long as they should (the main thread, as the tests do)."""
    setpriv = shutil.which("setpriv") if sys.platform == "linux" else None
    if setpriv is None:
        return argv
    return [setpriv, "--pdeathsig", "TERM", "--", *argv]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the engine has not exited within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
