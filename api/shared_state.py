"""The state replicas share (contract section 14): one Redis, or nothing but this process.

With `REDIS_URL` (or a Redis `RATE_LIMIT_STORAGE_URL`), the limit counters and the classifier's
decisions live in Redis, so N replicas behave as one. Redis is never a reason to fail a
request: when a call to it fails, the feature that made it carries on with its in-process
counterpart (`fall_back`), and for `RETRY_SECONDS` every feature goes straight there instead of
waiting on a Redis that just failed; the first call after that tries Redis again. Readiness
says `degraded` while Redis is out, and the metrics count each fallback.

The client is built with short socket timeouts and one retry (a connection reset after a
Redis restart is retried once), so a Redis that hangs costs a request at most about a second.

redis-py is imported only when Redis is configured: it loads `cryptography` with it, about
16 MB resident that a single gateway without Redis would carry for nothing. The features catch
`SharedState.errors`, which is empty without Redis (tests/unit/test_startup_footprint.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import structlog

from api.readiness import ComponentHealth

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

RETRY_SECONDS = 5.0
SOCKET_TIMEOUT_SECONDS = 0.5


class SharedStateListener(Protocol):
    """What the metrics hear: Redis came or went, and a feature fell back to this process."""

    def shared_state_changed(self, up: bool) -> None: ...

    def shared_state_fallback(self, feature: str) -> None: ...


def redis_errors() -> tuple[type[Exception], ...]:
    """What a failed Redis call raises (importing redis-py: call it only with Redis configured)."""
    from redis.exceptions import RedisError

    return (RedisError,)


def redis_client(url: str) -> Redis:
    """A Redis client that gives up quickly (no I/O until first use)."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    return Redis.from_url(
        url,
        socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
        socket_timeout=SOCKET_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )


class SharedState:
    """The shared Redis (None: in-process only) and whether it is usable right now."""

    def __init__(
        self,
        redis: Redis | None,
        *,
        listener: SharedStateListener | None = None,
        retry_seconds: float = RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.redis = redis
        self.listener = listener
        self.retry_seconds = retry_seconds
        self.clock = clock
        self.error: str | None = None  # why Redis is out; None while it is usable
        self._retry_at = 0.0
        self.fallbacks = 0
        if redis is not None and listener is not None:
            listener.shared_state_changed(True)

    @classmethod
    def from_url(cls, url: str | None, listener: SharedStateListener | None = None) -> SharedState:
        return cls(redis_client(url) if url else None, listener=listener)

    @property
    def errors(self) -> tuple[type[Exception], ...]:
        """What the features catch from a Redis call. `except ()` catches nothing, as it should
        when there is no Redis to fail; an `except` clause reads it only when something was raised."""
        return redis_errors() if self.redis is not None else ()

    @property
    def shared(self) -> bool:
        """Redis is configured (whether or not it answers right now)."""
        return self.redis is not None

    def usable(self) -> bool:
        """Try Redis now: it is configured and did not fail in the last `retry_seconds`."""
        return self.redis is not None and (self.error is None or self.clock() >= self._retry_at)

    def fall_back(self, feature: str, exc: BaseException) -> None:
        """A Redis call of `feature` failed: that call and the next ones use this process."""
        self.fallbacks += 1
        self._retry_at = self.clock() + self.retry_seconds
        if self.error is None:
            log.warning(
                "shared_state_unavailable",
                feature=feature,
                error=f"{type(exc).__name__}: {exc}",
                hint="limits and routing decisions are per process until Redis answers again",
            )
            if self.listener is not None:
                self.listener.shared_state_changed(False)
        self.error = f"{type(exc).__name__}: {exc}"
        if self.listener is not None:
            self.listener.shared_state_fallback(feature)

    def succeeded(self) -> None:
        """A Redis call worked: after an outage, the features share again."""
        if self.error is None:
            return
        log.info("shared_state_recovered", fallbacks_so_far=self.fallbacks)
        self.error = None
        if self.listener is not None:
            self.listener.shared_state_changed(True)

    def health(self) -> ComponentHealth:
        if self.redis is None:
            return ComponentHealth("ok", "in this process (no REDIS_URL): each replica limits and routes alone")
        if self.error is not None:
            return ComponentHealth("degraded", f"Redis unavailable, limits and routing per process: {self.error}")
        return ComponentHealth("ok", "Redis")

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()


class SharedStateCheck:
    """Readiness of the shared state: never critical, `degraded` while Redis is out."""

    critical = False

    def __init__(self, state: SharedState) -> None:
        self.state = state

    async def check(self) -> ComponentHealth:
        if self.state.redis is not None and self.state.error is not None and self.state.usable():
            # Nothing has tried Redis since the retry time: look, so an idle replica recovers too.
            try:
                await self.state.redis.ping()
            except self.state.errors as exc:
                self.state.fall_back("readiness", exc)
            else:
                self.state.succeeded()
        return self.state.health()
