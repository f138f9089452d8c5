"""Which source a fetch cycle asks: the primary, or the backup while the primary is down.

The primary (OpenSky) is asked every cycle while it answers. After ``after`` cycles in a
row in which it failed, the cycle that counts the last failure asks the backup (ADS-B
Exchange) too, and later cycles ask the backup alone. Every ``probe_every``-th cycle on the
backup asks the primary first: the first probe that succeeds switches back (its body is
that cycle's data), a failed one leaves the cycle to the backup.

``Failover`` holds only counters, so a fetcher keeps one for as long as it lives (a warm
Lambda container); a new one starts on the primary. Not thread-safe: one cycle at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"


@dataclass
class Failover:
    after: int = 3
    probe_every: int = 10
    failures: int = 0  # primary cycles failed in a row
    on_backup: bool = False
    cycles_on_backup: int = 0

    def __post_init__(self) -> None:
        if self.after < 1 or self.probe_every < 1:
            raise ValueError("after and probe_every must be at least 1")

    def attempts(self) -> tuple[Role, ...]:
        """The sources this cycle asks, in order, until one answers."""
        if not self.on_backup:
            last_chance = self.failures + 1 >= self.after
            return (Role.PRIMARY, Role.BACKUP) if last_chance else (Role.PRIMARY,)
        self.cycles_on_backup += 1
        if self.cycles_on_backup % self.probe_every == 0:
            return (Role.PRIMARY, Role.BACKUP)
        return (Role.BACKUP,)

    def record(self, role: Role, *, ok: bool) -> None:
        """What asking ``role`` gave."""
        if role is Role.BACKUP:
            return
        if ok:
            self.failures, self.on_backup, self.cycles_on_backup = 0, False, 0
            return
        self.failures += 1
        if not self.on_backup and self.failures >= self.after:
            self.on_backup, self.cycles_on_backup = True, 0

    @property
    def active(self) -> Role:
        return Role.BACKUP if self.on_backup else Role.PRIMARY
