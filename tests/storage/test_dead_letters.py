"""The ``DeadLetterRepository`` contract: rejected records kept with reason and raw value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain import InvalidArgument
from storage import cursor
from storage.base import DeadLetter, DeadLetterRepository

RECEIVED = datetime(2024, 6, 1, 12, 0, 0, 250_000, tzinfo=UTC)
ROW = ["3c6444", "DLH9    ", "Germany", 1, 2, 8.5, 50.0, 99_999.0, False, 1, 2, 3, None, 4]


_DISTINCT = object()


def letter(reason: str = "implausible_altitude", raw: object = _DISTINCT, n: int = 0) -> DeadLetter:
    """A dead letter; without ``raw``, a distinct record (``ROW`` with its own address)."""
    return DeadLetter(
        reason=reason,
        detail=f"detail {n}",
        source="opensky",
        raw=[f"{n:06x}", *ROW[1:]] if raw is _DISTINCT else raw,
        received_at=RECEIVED + timedelta(seconds=n),
    )


def test_added_letters_come_back_as_they_were(dead_letter_repo: DeadLetterRepository) -> None:
    original = letter(raw=ROW)
    dead_letter_repo.add([original])
    [stored] = dead_letter_repo.list(first=10).items
    assert stored == original  # ``id`` is not compared
    assert stored.raw == ROW
    assert stored.received_at.tzinfo is not None
    assert stored.id is not None


def test_raw_values_of_any_json_shape(dead_letter_repo: DeadLetterRepository) -> None:
    raws: list[object] = [None, "text", 42, {"states": None}, [[1, None]]]
    dead_letter_repo.add([letter(raw=r, n=i) for i, r in enumerate(raws)])
    assert [d.raw for d in dead_letter_repo.list(first=10).items] == raws


def test_count_by_reason(dead_letter_repo: DeadLetterRepository) -> None:
    assert dead_letter_repo.count() == 0
    dead_letter_repo.add([letter("stale_position", n=i) for i in range(3)])
    dead_letter_repo.add([letter("malformed_row", n=9)])
    dead_letter_repo.add([])
    assert dead_letter_repo.count() == 4
    assert dead_letter_repo.count("stale_position") == 3
    assert dead_letter_repo.count("malformed_row") == 1
    assert dead_letter_repo.count("invalid_icao24") == 0


def test_list_pages_in_insertion_order(dead_letter_repo: DeadLetterRepository) -> None:
    dead_letter_repo.add([letter("stale_position" if i % 2 else "schema", n=i) for i in range(11)])
    seen: list[str] = []
    after = None
    while True:
        page = dead_letter_repo.list(first=3, after=after, reason="stale_position")
        assert page.total_count == 5
        seen += [d.detail for d in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == [f"detail {i}" for i in (1, 3, 5, 7, 9)]


@pytest.mark.parametrize(
    "bad", ["x", cursor.encode("flights", "3c6444"), cursor.encode("dead-letters", "7")]
)
def test_bad_cursor(dead_letter_repo: DeadLetterRepository, bad: str) -> None:
    with pytest.raises(InvalidArgument, match="unknown cursor"):
        dead_letter_repo.list(first=3, after=bad)


def test_the_same_record_rejected_again_is_kept_once(
    dead_letter_repo: DeadLetterRepository,
) -> None:
    dead_letter_repo.add([letter(raw=ROW)])
    dead_letter_repo.add([letter(raw=ROW, n=5)])
    assert dead_letter_repo.count() == 1
    dead_letter_repo.add([letter(raw=[*ROW[:-1], 5])])
    assert dead_letter_repo.count() == 2
