"""Structured logs: one JSON object per line, with the request and cycle ids.

A record becomes::

    {"time": "2026-11-27T10:00:00.123+00:00", "level": "INFO", "logger": "ingestion.loop",
     "message": "ingest replay: received=5485 ...", "request_id": "...", "cycle_id": "..."}

``request_id`` and ``cycle_id`` appear when set (see ``observability.context``); values
passed with ``extra={...}`` become keys of their own; an exception is written, formatted,
under ``exception``. ``LOG_FORMAT=text`` keeps a human-readable line with the same ids.

``LOG_FORMAT=auto`` (the default) chooses per destination: text where the handler writes to
a terminal (``make run`` in a shell, for a person to read), JSON everywhere else (a pipe, a
file, a log collector) and always on Lambda, where CloudWatch reads the lines.
"""

from __future__ import annotations

import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from observability.context import CYCLE_ID, REQUEST_ID

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's copy of the message with ANSI colours, for its own handler
}
FORMATS = ("auto", "json", "text")
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


def _on_a_terminal(handler: logging.Handler) -> bool:
    stream = getattr(handler, "stream", None)
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def resolve(kind: str, handler: logging.Handler | None = None) -> str:
    """``json`` or ``text`` for a ``LOG_FORMAT`` value and the handler it formats for:
    ``auto`` is text on a terminal, JSON elsewhere and always on Lambda."""
    if kind not in FORMATS:
        raise ValueError(f"unknown log format {kind!r} (expected one of {', '.join(FORMATS)})")
    if kind != "auto":
        return kind
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return "json"
    return "text" if handler is not None and _on_a_terminal(handler) else "json"


def formatter(kind: str, handler: logging.Handler | None = None) -> logging.Formatter:
    """The formatter of a ``LOG_FORMAT`` value (``auto``, ``json`` or ``text``) for
    ``handler``'s destination."""
    return TextFormatter() if resolve(kind, handler) == "text" else JsonFormatter()


def configure(level: str, kind: str = "auto") -> None:
    """Log at ``level`` through the root logger's handlers, formatted as ``kind``.

    Handlers already installed (the Lambda runtime's, pytest's) keep their destination
    and get the formatter (with ``auto``, each the one its destination wants); without any,
    one writing to stderr is added.
    """
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter(kind, handler))
