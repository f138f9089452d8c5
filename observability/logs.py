"""Structured logs: one JSON object per line, with the request and cycle ids.

A record becomes::

    {"time": "2026-11-27T10:00:00.123+00:00", "level": "INFO", "logger": "ingestion.loop",
     "message": "ingest replay: received=5485 ...", "request_id": "...", "cycle_id": "..."}

``request_id`` and ``cycle_id`` appear when set (see ``observability.context``); values
passed with ``extra={...}`` become keys of their own; an exception is written, formatted,
under ``exception``. ``LOG_FORMAT=text`` keeps a human-readable line with the same ids.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from observability.context import CYCLE_ID, REQUEST_ID

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _ids() -> dict[str, str]:
    ids = {}
    if (request_id := REQUEST_ID.get()) is not None:
        ids["request_id"] = request_id
    if (cycle_id := CYCLE_ID.get()) is not None:
        ids["cycle_id"] = cycle_id
    return ids


class JsonFormatter(logging.Formatter):
    """Formats each record as one JSON object (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_ids(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in body and not key.startswith("_"):
                body[key] = value
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            body["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(body, default=repr).decode()


class TextFormatter(logging.Formatter):
    """The classic one-line format, with ``request_id=...`` / ``cycle_id=...`` appended."""

    def __init__(self) -> None:
        super().__init__(_TEXT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        # The ids end the first line, before any traceback.
        line = super().formatMessage(record)
        return line + "".join(f" {k}={v}" for k, v in _ids().items())


def formatter(kind: str) -> logging.Formatter:
    """The formatter of a ``LOG_FORMAT`` value: ``json`` or ``text``."""
    if kind == "json":
        return JsonFormatter()
    if kind == "text":
        return TextFormatter()
    raise ValueError(f"unknown log format {kind!r} (expected json or text)")


def configure(level: str, kind: str = "json") -> None:
    """Log at ``level`` through the root logger's handlers, formatted as ``kind``.

    Handlers already installed (the Lambda runtime's, pytest's) keep their destination
    and get the formatter; without any, one writing to stderr is added.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    chosen = formatter(kind)
    for handler in root.handlers:
        handler.setFormatter(chosen)
