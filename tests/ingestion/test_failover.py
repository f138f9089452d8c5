"""The primary source until it fails ``after`` cycles in a row, then the backup, with a
probe of the primary every ``probe_every`` cycles on the backup."""

from __future__ import annotations

import pytest

from ingestion.failover import Failover, Role

P, B = Role.PRIMARY, Role.BACKUP


def _cycle(failover: Failover, primary_up: bool, backup_up: bool = True) -> Role | None:
    """One cycle: the source whose body it got, or None."""
    for role in failover.attempts():
        ok = primary_up if role is P else backup_up
        failover.record(role, ok=ok)
        if ok:
            return role
    return None


def test_the_primary_is_asked_alone_while_it_answers() -> None:
    failover = Failover(after=3)

    assert [failover.attempts() for _ in range(3)] == [(P,)] * 3
    assert failover.active is P


def test_the_nth_failed_cycle_asks_the_backup_and_later_ones_the_backup_alone() -> None:
    failover = Failover(after=3, probe_every=100)

    got = [_cycle(failover, primary_up=False) for _ in range(5)]

    assert got == [None, None, B, B, B]
    assert failover.active is B
    assert failover.attempts() == (B,)


def test_a_success_between_failures_starts_the_count_again() -> None:
    failover = Failover(after=2)

    got = [_cycle(failover, up) for up in (False, True, False, True)]

    assert got == [None, P, None, P]
    assert failover.active is P


def test_on_the_backup_the_primary_is_probed_every_nth_cycle_and_taken_back() -> None:
    failover = Failover(after=1, probe_every=3)
    assert _cycle(failover, primary_up=False) is B

    plans = [failover.attempts() for _ in range(6)]
    assert plans == [(B,), (B,), (P, B), (B,), (B,), (P, B)]

    failover.record(P, ok=True)
    assert failover.active is P
    # after=1: each failure of the primary is its last, so the backup stands by.
    assert failover.attempts() == (P, B)


def test_a_failed_probe_leaves_the_cycle_to_the_backup() -> None:
    failover = Failover(after=1, probe_every=2)
    _cycle(failover, primary_up=False)

    got = [_cycle(failover, primary_up=False) for _ in range(4)]

    assert got == [B, B, B, B]
    assert failover.active is B


def test_both_down_gets_nothing_and_keeps_probing() -> None:
    failover = Failover(after=1, probe_every=2)

    got = [_cycle(failover, primary_up=False, backup_up=False) for _ in range(3)]

    assert got == [None, None, None]
    assert failover.active is B


@pytest.mark.parametrize(("after", "probe_every"), [(0, 1), (1, 0)])
def test_counts_below_one_are_refused(after: int, probe_every: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Failover(after=after, probe_every=probe_every)
