"""Opaque cursors: they round-trip, and anything else is a clear ``InvalidArgument``."""

from __future__ import annotations

import base64

import pytest

from domain import InvalidArgument
from storage import cursor


@pytest.mark.parametrize("key", ["3c6444", 17, 0, ["a", 1], None, "naïve ✈"])
def test_round_trip(key: object) -> None:
    encoded = cursor.encode("flights", key)
    assert cursor.decode("flights", encoded) == key


def test_cursor_is_url_safe_without_padding() -> None:
    encoded = cursor.encode("flights", "ÿÿÿ~~~???")
    assert "=" not in encoded
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_cursor_of_another_kind_is_refused() -> None:
    other = cursor.encode("airports", "EGLL")
    with pytest.raises(InvalidArgument) as exc:
        cursor.decode("flights", other)
    assert str(exc.value) == f"unknown cursor {other!r}: not a flights cursor"
    assert exc.value.value == other


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a cursor",
        "%%%",
        "é",
        "a",  # impossible base64 length
        b64(b"\xff\xfe"),  # not UTF-8
        b64(b"not json"),
        b64(b"42"),  # JSON, but not a pair
        b64(b'["flights"]'),
        b64(b'["flights", 1, 2]'),
    ],
)
def test_garbage_is_an_unknown_cursor(bad: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        cursor.decode("flights", bad)
    assert str(exc.value).startswith(f"unknown cursor {bad!r}")
    assert "Error" not in str(exc.value)  # no internals in the message
