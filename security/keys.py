"""API keys: their format, their stored record, and verification with a short cache.

A key reads ``fd_<id>_<secret>``: ``id`` is 12 hex digits, random and public (it names the
key in ``flightdata keys list`` and in logs), ``secret`` 43 URL-safe characters from
``secrets`` (256 bits). The store holds the SHA-256 of the whole key, never the key: a
stolen store does not give working keys, and with 256 random bits a fast hash is as safe
as a slow one. A lookup is by id, so verification is one read and one constant-time
comparison.

``Authenticator`` keeps verified keys (and unknown ids) in memory for ``cache_s`` seconds,
so a request costs a dictionary lookup rather than a store read. What it keeps holds only
while the store's key generation (``ApiKeyRepository.generation``, one more after every
create, rotation or revocation, in any process) is the one it was read under; the
generation is read again at most once per ``recheck_s`` (0.5 s), so a revocation reaches
every process sharing the store within that time and one read. Thread-safe: the caches
are plain dictionaries whose races cost at most an extra store read.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from domain.api_key import ApiKey
from security.principal import ADMIN, READ, Principal
from storage.base import ApiKeyRepository, StoreUnavailable
from storage.offload import offload

log = logging.getLogger(__name__)

PREFIX = "fd_"
_ID_HEX = 12
KEY_LENGTH = len(PREFIX) + _ID_HEX + 1 + 43
SCOPES = ("read", "admin")
# Where keys live in the connection_init payload of a WebSocket (browsers cannot send
# headers on the upgrade).
WS_PAYLOAD_FIELDS = ("apiKey", "api_key", "X-API-Key", "x-api-key")


class KeyRejected(Exception):
    """A request's credentials are refused: ``status`` is the HTTP status (401 or 403),
    ``code`` a stable machine-readable reason, the message says why for people."""

    def __init__(self, code: str, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class UnknownKey(LookupError):
    """No key has this id."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"no API key with id {key_id}")
        self.key_id = key_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> str | None:
    """The id of a well-formed key, else ``None``."""
    if len(key) != KEY_LENGTH or not key.startswith(PREFIX) or key[3 + _ID_HEX] != "_":
        return None
    key_id = key[3 : 3 + _ID_HEX]
    return key_id if all(c in "0123456789abcdef" for c in key_id) else None


def scopes_for(scope: str) -> frozenset[str]:
    """``admin`` includes ``read``."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r} (expected one of {', '.join(SCOPES)})")
    return ADMIN if scope == "admin" else READ


@dataclass(frozen=True, slots=True)
class Issued:
    """A new key: the secret to hand over once, and its record."""

    key: str
    record: ApiKey


def _now() -> float:
    return time.time()


@dataclass
class KeyService:
    """Creates, rotates and revokes keys in ``repo``."""

    repo: ApiKeyRepository
    tiers: frozenset[str]
    default_days: float = 90.0
    clock: Callable[[], float] = field(default=_now)

    def create(
        self, name: str, *, scope: str = "read", tier: str = "standard", days: float | None = None
    ) -> Issued:
        if not name.strip():
            raise ValueError("a key needs a name")
        if tier not in self.tiers:
            raise ValueError(
                f"unknown tier {tier!r} (expected one of {', '.join(sorted(self.tiers))})"
            )
        return self._issue(name.strip(), scopes_for(scope), tier, days)

    def _issue(self, name: str, scopes: frozenset[str], tier: str, days: float | None) -> Issued:
        key_id = secrets.token_hex(_ID_HEX // 2)
        key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        now = self.clock()
        lifetime = timedelta(days=self.default_days if days is None else days).total_seconds()
        if lifetime <= 0:
            raise ValueError("a key must be valid for more than 0 days")
        record = ApiKey(
            key_id=key_id,
            name=name,
            scopes=scopes,
            tier=tier,
            key_hash=hash_key(key),
            created_at=now,
            expires_at=now + lifetime,
        )
        self.repo.put(record)
        return Issued(key, record)

    def _held(self, key_id: str) -> ApiKey:
        held = self.repo.get(key_id)
        if held is None:
            raise UnknownKey(key_id)
        return held

    def revoke(self, key_id: str) -> ApiKey:
        held = self._held(key_id)
        if held.revoked_at is not None:
            return held
        revoked = replace(held, revoked_at=self.clock())
        self.repo.put(revoked)
        return revoked

    def rotate(
        self, key_id: str, *, grace: timedelta = timedelta(hours=24)
    ) -> tuple[Issued, ApiKey]:
        """A new key with the old one's name, scopes and tier; the old one stays valid for
        ``grace`` (never longer than it would have anyway)."""
        held = self._held(key_id)
        if held.status(self.clock()) != "active":
            raise ValueError(f"API key {key_id} is {held.status(self.clock())}: create a new one")
        issued = self._issue(held.name, held.scopes, held.tier, None)
        old = replace(
            held,
            expires_at=min(held.expires_at, self.clock() + grace.total_seconds()),
            rotated_to=issued.record.key_id,
        )
        self.repo.put(old)
        return issued, old

    def list(self) -> list[ApiKey]:
        return sorted(self.repo.list(), key=lambda k: k.created_at)


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Authenticator:
    """Turns a presented key into a ``Principal`` or raises ``KeyRejected``."""

    def __init__(
        self,
        repo: ApiKeyRepository,
        *,
        cache_s: float = 30.0,
        recheck_s: float = 0.5,
        max_cached: int = 10_000,
        clock: Callable[[], float] = _now,
    ) -> None:
        self._repo = repo
        self._cache_s = cache_s
        self._recheck_s = recheck_s
        self._max_cached = max_cached
        self._clock = clock
        # key -> (record, principal, cached until, generation); key id -> unknown until
        self._known: dict[str, tuple[ApiKey, Principal, float, int | None]] = {}
        self._unknown: dict[str, float] = {}
        self._generation: int | None = None
        self._recheck_at = 0.0

    def cached(self, key: str) -> Principal | None:
        """The principal of ``key`` if it was verified recently and is still valid: the
        request path's fast check, no I/O. ``None``: call ``verify``."""
        hit = self._known.get(key)
        if hit is None:
            return None
        record, principal, until, generation = hit
        now = self._clock()
        if now >= until or now >= record.expires_at or now >= self._recheck_at:
            return None
        return principal if generation == self._generation else None

    async def verify(self, key: str) -> Principal:
        """``cached`` or the store read (in a thread) and the checks."""
        if self._recheck_due():
            try:
                self._changed(await offload(self._repo.generation))
            except StoreUnavailable as exc:
                log.warning("reading the API key generation failed: %s", exc)
        principal = self.cached(key)
        if principal is not None:
            return principal
        key_id = self._key_id(key)
        generation = self._generation
        record = await offload(self._repo.get, key_id)
        return self._check(key, key_id, record, generation)

    def verify_sync(self, key: str) -> Principal:
        """``verify`` for synchronous callers (tests, the CLI)."""
        if self._recheck_due():
            self._changed(self._repo.generation())
        principal = self.cached(key)
        if principal is not None:
            return principal
        key_id = self._key_id(key)
        generation = self._generation
        return self._check(key, key_id, self._repo.get(key_id), generation)

    def _recheck_due(self) -> bool:
        """Whether the generation is to be read again now; the caller reads it. Until it
        has (or when the store does not answer), what is cached stays for ``cache_s`` at
        most, and the generation is asked again after ``recheck_s``."""
        now = self._clock()
        if now < self._recheck_at:
            return False
        self._recheck_at = now + self._recheck_s  # one reader at a time
        return True

    def _changed(self, generation: int) -> None:
        """Forget what was cached when the store's keys changed since it was."""
        if generation != self._generation:
            self._generation = generation
            self.forget()

    def _key_id(self, key: str) -> str:
        key_id = split_key(key)
        if key_id is None:
            raise KeyRejected("malformed_api_key", "the API key is not a flightdata key (fd_…)")
        if self._unknown.get(key_id, 0.0) > self._clock():
            raise KeyRejected("unknown_api_key", "unknown API key")
        return key_id

    def _check(
        self, key: str, key_id: str, record: ApiKey | None, generation: int | None
    ) -> Principal:
        now = self._clock()
        if record is None or not hmac.compare_digest(record.key_hash, hash_key(key)):
            self._remember_unknown(key_id, now, record is None)
            raise KeyRejected("unknown_api_key", "unknown API key")
        status = record.status(now)
        if status == "revoked":
            assert record.revoked_at is not None
            raise KeyRejected(
                "revoked_api_key", f"API key {key_id} was revoked at {iso_utc(record.revoked_at)}"
            )
        if status == "expired":
            raise KeyRejected(
                "expired_api_key", f"API key {key_id} expired at {iso_utc(record.expires_at)}"
            )
        principal = Principal(
            id=f"key:{key_id}", scopes=record.scopes, tier=record.tier, key_id=key_id
        )
        if len(self._known) >= self._max_cached:
            self._known.clear()
        self._known[key] = (record, principal, now + self._cache_s, generation)
        return principal

    def _remember_unknown(self, key_id: str, now: float, absent: bool) -> None:
        # Only ids with no record: a wrong secret for a real id must not lock that id out.
        if absent:
            if len(self._unknown) >= self._max_cached:
                self._unknown.clear()
            self._unknown[key_id] = now + self._cache_s

    def forget(self) -> None:
        """Drop the caches (tests, and after a local revocation)."""
        self._known.clear()
        self._unknown.clear()
