"""Where the limit counters live, from `RATE_LIMIT_STORAGE_URL`: this process, or one Redis for all replicas.

One Redis client (one connection pool) serves the rate windows, the concurrency leases
and the budget ledger; building it does no I/O (it connects on first use).
"""

from __future__ import annotations

from redis.asyncio import Redis

from api.clients.admission import ClientLimits, Clock, utc_now
from api.clients.budget import MemoryLedger, RedisLedger
from api.clients.concurrency import MemorySlots, RedisSlots
from api.clients.limiter import RateWindows, storage_for


def client_limits(storage_url: str, key_prefix: str, clock: Clock = utc_now) -> ClientLimits:
    """The limits of every client, counted in memory (`memory://`) or in Redis (`redis://...`)."""
    if storage_url.startswith("memory://"):
        return ClientLimits(RateWindows(storage_for(None, key_prefix)), MemorySlots(), MemoryLedger(), clock)
    redis = Redis.from_url(storage_url)
    return ClientLimits(
        RateWindows(storage_for(redis, key_prefix)),
        RedisSlots(redis, key_prefix),
        RedisLedger(redis, key_prefix),
        clock,
        redis=redis,
    )
