"""An API key as stored: everything but the key itself (``security.keys`` issues and
verifies keys; ``storage`` keeps these records)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key: everything but the key itself. Times are epoch seconds (UTC)."""

    key_id: str
    name: str
    scopes: frozenset[str]
    tier: str
    key_hash: str  # hex SHA-256 of the full key
    created_at: float
    expires_at: float
    revoked_at: float | None = None
    rotated_to: str | None = None  # the id of the key that replaced this one

    def status(self, now: float) -> str:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"
