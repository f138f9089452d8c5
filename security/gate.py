"""The policy every transport applies: who a request acts for, and whether it may run now.

``Gate.authenticate`` turns a presented key (or none) into a ``Principal`` or raises
``KeyRejected``; ``Gate.admit`` takes a token from the principal's bucket. Every refusal by
the rate limiter is reported to the callbacks given to ``on_rate_limited``: the hook for
metrics (a Prometheus counter of rejections) and for the ``RateLimitExceeded`` event, which
``rate_limit_events`` publishes at most once a minute per client, so that a client hammering
the API does not turn each refused request into an EventBridge call.

``build_security`` assembles the parts from the settings, once per app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config import Settings
from domain.events import Event, RateLimitExceeded
from security.keys import Authenticator, KeyRejected
from security.limits import QueryLimits
from security.persisted import PersistedQueries
from security.principal import Principal, anonymous
from security.ratelimit import (
    Decision,
    FallbackLimiter,
    LocalBuckets,
    RateLimiter,
    RedisBuckets,
    Tier,
    tiers_from,
)
from storage.redis.resp import RespClient
from storage.stores import Stores

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateLimited:
    """One request refused by the rate limiter."""

    principal: Principal
    decision: Decision
    transport: str  # "http" or "websocket"


RateLimitedHook = Callable[[RateLimited], None]


class Gate:
    def __init__(
        self,
        authenticator: Authenticator,
        limiter: RateLimiter,
        tiers: dict[str, Tier],
        *,
        anonymous: bool,
    ) -> None:
        self.authenticator = authenticator
        self.limiter = limiter
        self.tiers = tiers
        self.anonymous = anonymous
        self._anonymous_tier = tiers["anonymous"]
        self._default_tier = tiers["standard"]
        self._hooks: list[RateLimitedHook] = []

    def on_rate_limited(self, hook: RateLimitedHook) -> None:
        """Call ``hook`` for every request the rate limiter refuses (cheap hooks only: it
        runs on the request path)."""
        self._hooks.append(hook)

    async def authenticate(self, key: str | None, address: str) -> Principal:
        if key:
            principal = self.authenticator.cached(key)
            return principal if principal is not None else await self.authenticator.verify(key)
        if self.anonymous:
            return anonymous(address)
        raise KeyRejected(
            "api_key_required", "an API key is required: send it in the X-API-Key header"
        )

    async def admit(self, principal: Principal, transport: str = "http") -> Decision:
        tier = self._anonymous_tier if principal.key_id is None else self._tier(principal.tier)
        decision = await self.limiter.acquire(principal.id, tier)
        if not decision.allowed:
            refused = RateLimited(principal, decision, transport)
            for hook in self._hooks:
                try:
                    hook(refused)
                except Exception:
                    log.exception("rate-limited hook failed")
        return decision

    def _tier(self, name: str) -> Tier:
        # A key whose tier was removed from the settings keeps the default quota.
        return self.tiers.get(name, self._default_tier)


def rate_limit_events(
    publish: Callable[[Event], None], *, every_s: float = 60.0, max_clients: int = 10_000
) -> RateLimitedHook:
    """A hook that publishes ``RateLimitExceeded`` (source ``api``) at most once per
    ``every_s`` per client."""
    last: dict[str, float] = {}

    def hook(refused: RateLimited) -> None:
        now = time.monotonic()
        client = refused.principal.id
        if now - last.get(client, -every_s) < every_s:
            return
        if len(last) >= max_clients:
            last.clear()
        last[client] = now
        publish(
            RateLimitExceeded(
                source="api",
                retry_after_s=refused.decision.retry_after_s,
                remaining=refused.decision.remaining,
                client=client,
            )
        )

    return hook


@dataclass
class Security:
    """What the app wires in: ``gate`` is ``None`` when ``FLIGHTDATA_SECURITY=false``."""

    gate: Gate | None
    limits: QueryLimits
    persisted: PersistedQueries
    max_body_bytes: int
    redis: RespClient | None = field(default=None, repr=False)

    async def aclose(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


def build_security(settings: Settings, stores: Stores) -> Security:
    from storage.redis import redis_url

    url = redis_url(settings.redis_url, settings.redis_cluster_endpoint)
    redis = RespClient(url) if url else None
    gate = None
    if settings.security:
        limiter: RateLimiter = LocalBuckets()
        if redis is not None:
            limiter = FallbackLimiter(RedisBuckets(redis), LocalBuckets())
        gate = Gate(
            Authenticator(stores.api_keys),
            limiter,
            tiers_from(settings.rate_tiers),
            anonymous=settings.anonymous,
        )
    return Security(
        gate=gate,
        limits=QueryLimits.from_settings(settings),
        persisted=PersistedQueries(redis),
        max_body_bytes=settings.max_body_bytes,
        redis=redis,
    )
