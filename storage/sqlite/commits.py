"""Telling a reader in another process that the SQLite store was written, without polling.

Every commit appends to the store's write-ahead log. On Linux, inotify reports each write
to that file on a descriptor that the reader's event loop watches: the reader wakes within
a millisecond of a commit, at no cost while nothing is written. Where inotify is missing,
or the log cannot be watched (it does not exist yet, or was removed), ``CommitWatch.wait``
sleeps its whole timeout and the reader polls as before; the watch is tried again on the
next wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import logging
import os
import struct
import sys
from functools import cache

log = logging.getLogger(__name__)

_IN_MODIFY = 0x00000002
_IN_IGNORED = 0x00008000  # the watch is gone: the file was removed
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.inotify_init1, libc.inotify_add_watch  # noqa: B018 - present in this C library
    except (OSError, AttributeError):
        return None
    return libc


class CommitWatch:
    """Wakes a waiter when the SQLite file ``path`` may have had a commit since it last
    called ``arm``: ``arm()`` before reading the store, then ``await wait(timeout_s)``.
    A write wakes it as it happens, and the commit it ends is visible a moment later
    (SQLite then updates the log's index in shared memory, which inotify does not see):
    a reader woken by the last write may find nothing new yet, so it polls as well.
    Belongs to one event loop; ``close`` releases the descriptor."""

    def __init__(self, path: str) -> None:
        self._wal = f"{path}-wal"
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._written = asyncio.Event()

    @property
    def watching(self) -> bool:
        return self._fd is not None

    def arm(self) -> None:
        """From now on, only a later write wakes ``wait``."""
        self._written.clear()

    async def wait(self, timeout_s: float) -> bool:
        """Returns once the log was written since ``arm`` (``True``), or after
        ``timeout_s`` (``False``)."""
        if self._fd is None and not self._start():
            await asyncio.sleep(timeout_s)
            return False
        # ``asyncio.timeout``: Python 3.11's ``wait_for`` can swallow a cancellation that
        # comes as the event is set, and the waiter would never stop.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._written.wait()
        return self._written.is_set()

    def _start(self) -> bool:
        libc = _libc()
        if libc is None or not os.path.exists(self._wal):
            return False
        fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if fd < 0:
            log.warning("cannot watch the store for commits: %s", os.strerror(ctypes.get_errno()))
            return False
        if libc.inotify_add_watch(fd, os.fsencode(self._wal), _IN_MODIFY) < 0:
            os.close(fd)
            return False
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(fd, self._drain)
        self._fd = fd
        self._written.set()  # a commit may have come before the watch: poll once
        return True

    def _drain(self) -> None:
        assert self._fd is not None
        gone = False
        try:
            while data := os.read(self._fd, 4096):
                offset = 0
                while offset < len(data):
                    _, mask, _, length = _EVENT.unpack_from(data, offset)
                    gone |= bool(mask & _IN_IGNORED)
                    offset += _EVENT.size + length
        except BlockingIOError:
            pass
        self._written.set()
        if gone:  # the log was removed: watch the next one on the next wait
            self.close()

    def close(self) -> None:
        if self._fd is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = None
