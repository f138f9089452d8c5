"""Opaque pagination cursors: a kind tag and a key, base64url-encoded JSON.

Cursors are validated on the way back in; a cursor of another kind, or one that does not
decode, is an ``InvalidArgument`` that names the problem without echoing internals.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from domain import InvalidArgument


def encode(kind: str, key: Any) -> str:
    raw = orjson.dumps([kind, key])
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def invalid(cursor: str | None, why: str = "") -> InvalidArgument:
    return InvalidArgument(f"unknown cursor {cursor!r}{why}", value=cursor)


def decode(kind: str, cursor: str) -> Any:
    """The key inside ``cursor``, which must have been made by ``encode(kind, ...)``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        tag, key = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, TypeError, UnicodeEncodeError) as exc:
        raise invalid(cursor) from exc
    if tag != kind:
        raise invalid(cursor, f": not a {kind} cursor")
    return key
