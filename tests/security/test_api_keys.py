"""API keys: their format, what the store keeps (never the key), verification and its
cache, rotation and revocation, on SQLite and on DynamoDB Local (the repositories' own
contract is ``tests/storage/test_api_key_repository.py``)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from config import Settings
from domain.api_key import ApiKey
from security.keys import (
    KEY_LENGTH,
    Authenticator,
    KeyRejected,
    KeyService,
    UnknownKey,
    split_key,
)
from storage.base import ApiKeyRepository, StoreUnavailable
from storage.sqlite import SqliteApiKeyRepository
from storage.stores import Stores

TIERS = frozenset({"anonymous", "standard"})


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def repo(stores: Stores) -> ApiKeyRepository:
    return stores.api_keys


def test_a_key_is_random_and_named_by_its_id(repo: ApiKeyRepository) -> None:
    service = KeyService(repo, TIERS)
    one, two = service.create("a"), service.create("b")

    assert one.key != two.key
    assert len(one.key) == KEY_LENGTH
    assert one.key.startswith(f"fd_{one.record.key_id}_")
    assert split_key(one.key) == one.record.key_id
    assert split_key("fd_" + "g" * 12 + "_" + "x" * 43) is None


def test_the_store_keeps_a_hash_never_the_key(repo: ApiKeyRepository, settings: Settings) -> None:
    clock = Clock()
    issued = KeyService(repo, TIERS, clock=clock).create("maps", scope="admin", days=30)
    held = repo.get(issued.record.key_id)

    assert held == issued.record
    assert held is not None
    assert held.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    assert held.scopes == {"read", "admin"}
    assert held.tier == "standard"
    assert held.expires_at - held.created_at == 30 * 86400
    secret = issued.key.split("_", 2)[2]
    if isinstance(repo, SqliteApiKeyRepository):
        assert secret.encode() not in settings.database_path.read_bytes()
    assert [k.key_id for k in repo.list()] == [issued.record.key_id]


def test_keys_last_90_days_by_default(repo: ApiKeyRepository) -> None:
    record = KeyService(repo, TIERS).create("x").record

    assert record.expires_at - record.created_at == pytest.approx(90 * 86400)


def test_bad_names_tiers_and_scopes_are_refused(repo: ApiKeyRepository) -> None:
    service = KeyService(repo, TIERS)
    with pytest.raises(ValueError, match="unknown tier 'gold'"):
        service.create("x", tier="gold")
    with pytest.raises(ValueError, match="unknown scope"):
        service.create("x", scope="root")
    with pytest.raises(ValueError, match="needs a name"):
        service.create(" ")
    with pytest.raises(UnknownKey):
        service.revoke("0123456789ab")


def _verify(auth: Authenticator, key: str) -> str:
    try:
        return asyncio.run(auth.verify(key)).id
    except KeyRejected as exc:
        return exc.code


def test_verification_says_what_is_wrong(repo: ApiKeyRepository) -> None:
    clock = Clock()
    service = KeyService(repo, TIERS, clock=clock)
    auth = Authenticator(repo, cache_s=30, clock=clock)
    good = service.create("good")
    revoked = service.create("revoked")
    service.revoke(revoked.record.key_id)
    short = service.create("short", days=1)
    clock.now += 2 * 86400

    assert _verify(auth, good.key) == f"key:{good.record.key_id}"
    assert _verify(auth, revoked.key) == "revoked_api_key"
    assert _verify(auth, short.key) == "expired_api_key"
    assert _verify(auth, good.key[:-1] + ("A" if good.key[-1] != "A" else "B")) == (
        "unknown_api_key"
    )
    assert _verify(auth, "fd_abcdefabcdef_" + "x" * 43) == "unknown_api_key"
    assert _verify(auth, "Bearer xyz") == "malformed_api_key"


def test_a_wrong_secret_does_not_lock_out_the_real_key(repo: ApiKeyRepository) -> None:
    issued = KeyService(repo, TIERS).create("x")
    auth = Authenticator(repo)
    forged = issued.key[:-3] + "abc"

    assert _verify(auth, forged) == "unknown_api_key"
    assert _verify(auth, issued.key).startswith("key:")


def test_verified_keys_are_cached_until_their_time_is_up(repo: ApiKeyRepository) -> None:
    clock = Clock()
    service = KeyService(repo, TIERS, clock=clock)
    reads: list[str] = []

    class Counting:
        def put(self, key: ApiKey) -> None:
            raise AssertionError("verification never writes")

        def get(self, key_id: str) -> ApiKey | None:
            reads.append(key_id)
            return repo.get(key_id)

        def list(self) -> list[ApiKey]:
            return repo.list()

        def generation(self) -> int:
            return 0  # as if no key ever changed

    auth = Authenticator(Counting(), cache_s=30, clock=clock)
    issued = service.create("x")
    assert _verify(auth, issued.key).startswith("key:")
    clock.now += 29
    assert _verify(auth, issued.key).startswith("key:")  # cached: no read
    assert len(reads) == 1

    service.revoke(issued.record.key_id)
    clock.now += 2
    assert _verify(auth, issued.key) == "revoked_api_key"
    assert len(reads) == 2


def test_a_revocation_in_one_process_reaches_another_at_its_next_recheck(
    open_backend: Callable[[], Stores],
) -> None:
    clock = Clock()
    here, there = open_backend(), open_backend()  # two processes sharing the store
    service = KeyService(here.api_keys, TIERS, clock=clock)
    auth = Authenticator(there.api_keys, cache_s=30, recheck_s=0.5, clock=clock)
    issued, other = service.create("revoked soon"), service.create("kept")
    assert _verify(auth, issued.key).startswith("key:")
    assert _verify(auth, other.key).startswith("key:")

    service.revoke(issued.record.key_id)
    clock.now += 0.25
    assert _verify(auth, issued.key).startswith("key:")  # within the recheck interval
    clock.now += 0.25
    assert _verify(auth, issued.key) == "revoked_api_key"
    assert _verify(auth, other.key).startswith("key:")


def test_cached_keys_stay_while_the_store_cannot_tell_the_generation(
    repo: ApiKeyRepository,
) -> None:
    clock = Clock()
    issued = KeyService(repo, TIERS, clock=clock).create("x")
    down = False

    class Flaky:
        def put(self, key: ApiKey) -> None:
            repo.put(key)

        def get(self, key_id: str) -> ApiKey | None:
            return repo.get(key_id)

        def list(self) -> list[ApiKey]:
            return repo.list()

        def generation(self) -> int:
            if down:
                raise StoreUnavailable("the store is down")
            return repo.generation()

    auth = Authenticator(Flaky(), cache_s=30, clock=clock)
    assert _verify(auth, issued.key).startswith("key:")
    down = True
    clock.now += 1
    assert _verify(auth, issued.key).startswith("key:")


def test_rotation_keeps_the_old_key_for_the_grace_period(repo: ApiKeyRepository) -> None:
    clock = Clock()
    service = KeyService(repo, TIERS, clock=clock)
    auth = Authenticator(repo, cache_s=0, clock=clock)
    old = service.create("partner", scope="admin")

    new, retired = service.rotate(old.record.key_id, grace=timedelta(hours=2))

    assert new.record.scopes == old.record.scopes
    assert new.record.name == "partner"
    assert retired.rotated_to == new.record.key_id
    assert _verify(auth, old.key).startswith("key:")
    assert _verify(auth, new.key).startswith("key:")
    clock.now += 2 * 3600 + 1
    assert _verify(auth, old.key) == "expired_api_key"
    assert _verify(auth, new.key).startswith("key:")
    with pytest.raises(ValueError, match="expired"):
        service.rotate(old.record.key_id)
