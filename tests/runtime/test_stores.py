"""``open_stores``: the stores the settings name, closed by the block that opened them."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from config import Settings
from runtime.stores import open_stores
from storage.stores import Backend


@dataclass
class _Recording:
    inner: Backend
    calls: list[str] = field(default_factory=list)

    def ping(self) -> None:
        self.inner.ping()

    def close(self) -> None:
        self.calls.append("close")
        self.inner.close()


def test_stores_close_when_their_block_ends(settings: Settings) -> None:
    with open_stores(settings) as stores:
        stores.ping()
        backend = stores.backend = _Recording(stores.backend)

    assert backend.calls == ["close"]


def test_stores_close_when_their_block_fails(settings: Settings) -> None:
    recorded: list[_Recording] = []

    def fail() -> None:
        with open_stores(settings) as stores:
            recorded.append(_Recording(stores.backend))
            stores.backend = recorded[0]
            raise LookupError

    with pytest.raises(LookupError):
        fail()

    assert recorded[0].calls == ["close"]
