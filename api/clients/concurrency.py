"""Open-request slots per client: `concurrent_requests`, streams included.

Memory: a counter per client in this process. Redis: a sorted set of leases per client,
shared by every replica; a lease's score is its expiry (Redis's own clock), so the slots
of a replica that died expire after `LEASE_TTL_SECONDS`. A live replica renews the leases
it holds every third of that, so a long stream keeps its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Protocol

import structlog

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = structlog.get_logger(__name__)

LEASE_TTL_SECONDS = 60

# KEYS[1] the client's lease set; ARGV: limit, lease id, ttl ms. 1 when the lease was taken.
_ACQUIRE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
return 1
"""

# KEYS: lease sets; ARGV[1] ttl ms, then one lease id per key. Renews leases still held.
_RENEW = """
local t = redis.call('TIME')
local expires = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', expires, ARGV[i + 1])
  redis.call('PEXPIRE', key, tonumber(ARGV[1]))
end
return #KEYS
"""


class Slots(Protocol):
    async def acquire(self, name: str, limit: int) -> str | None:
        """A lease on one of `limit` slots, or None when all are taken."""

    async def release(self, name: str, lease: str) -> None: ...

    def start(self) -> None: ...

    async def close(self) -> None: ...


class MemorySlots:
    """Slots counted in this process."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}

    async def acquire(self, name: str, limit: int) -> str | None:
        held = self._open.get(name, 0)
        if held >= limit:
            return None
        self._open[name] = held + 1
        return name

    async def release(self, name: str, lease: str) -> None:
        held = self._open.get(name, 0) - 1
        if held > 0:
            self._open[name] = held
        else:
            self._open.pop(name, None)

    def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


class RedisSlots:
    """Slots shared by every replica: leases in a sorted set per client, renewed while held."""

    def __init__(self, redis: Redis, key_prefix: str, ttl_seconds: float = LEASE_TTL_SECONDS) -> None:
        self.redis = redis
        self.key_prefix = key_prefix
        self.ttl_ms = int(ttl_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._held: dict[str, str] = {}  # lease → key
        self._renewer: asyncio.Task[None] | None = None

    def key(self, name: str) -> str:
        return f"{self.key_prefix}:concurrency:{name}"

    async def acquire(self, name: str, limit: int) -> str | None:
        lease = uuid.uuid4().hex
        key = self.key(name)
        if not await self._acquire(keys=[key], args=[limit, lease, self.ttl_ms]):
            return None
        self._held[lease] = key
        return lease

    async def release(self, name: str, lease: str) -> None:
        key = self._held.pop(lease, self.key(name))
        await self.redis.zrem(key, lease)

    def start(self) -> None:
        self._renewer = asyncio.create_task(self._renew_forever())

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer

    async def _renew_forever(self) -> None:
        from redis.exceptions import RedisError  # only Redis slots renew: see api/shared_state.py

        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            held = dict(self._held)
            if not held:
                continue
            try:
                await self._renew(keys=list(held.values()), args=[self.ttl_ms, *held])
            except RedisError as exc:  # the next round tries again; until then leases may lapse
                log.warning("concurrency_renew_failed", error=str(exc))
