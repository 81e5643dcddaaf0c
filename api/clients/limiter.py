"""Per-minute request and token windows over the `limits` library (sliding window counter).

The counters live in `limits`' storage: memory (this process) or Redis (every replica);
`storage_for` builds it from `RATE_LIMIT_STORAGE_URL`. `charge` counts tokens past the
limit: usage settled after the answer must be counted even when it overshoots.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from api.clients.headers import WindowState

if TYPE_CHECKING:
    from redis.asyncio import Redis

Kind = Literal["requests", "tokens"]
_NO_CEILING = 2**62


def storage_for(redis: Redis | None, key_prefix: str) -> Storage:
    """Memory storage, or Redis storage over the shared client's connection pool."""
    if redis is None:
        return MemoryStorage()
    return RedisStorage(
        "redis://", implementation="redispy", key_prefix=f"{key_prefix}:limits", connection_pool=redis.connection_pool
    )


class RateWindows:
    """A client's per-minute windows, one per kind, keyed by client name."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.limiter = SlidingWindowCounterRateLimiter(storage)

    async def hit(self, name: str, kind: Kind, limit: int, cost: int = 1) -> tuple[bool, WindowState]:
        """Take `cost` from the window if it fits; the window as it stands afterwards."""
        item = RateLimitItemPerMinute(limit)
        admitted = await self.limiter.hit(item, kind, name, cost=cost)
        return admitted, await self._state(item, name, kind)

    async def state(self, name: str, kind: Kind, limit: int) -> WindowState:
        return await self._state(RateLimitItemPerMinute(limit), name, kind)

    async def charge(self, name: str, kind: Kind, limit: int, cost: int) -> None:
        """Count `cost` whatever the window holds (the limiter's `hit` would refuse past the limit)."""
        item = RateLimitItemPerMinute(limit)
        await self.storage.acquire_sliding_window_entry(  # type: ignore[attr-defined]
            item.key_for(kind, name), _NO_CEILING, item.get_expiry(), cost
        )

    async def _state(self, item: RateLimitItemPerMinute, name: str, kind: Kind) -> WindowState:
        stats = await self.limiter.get_window_stats(item, kind, name)
        reset = stats.reset_time - time.time()
        if reset <= 0 and stats.remaining < item.amount:  # the library's figure at a window's very start
            reset = item.get_expiry()
        return WindowState(item.amount, stats.remaining, max(0.0, reset))
