"""The classifier's decisions, reused: one classification per conversation, across replicas.

A decision is kept in this process (a TTL cache) and, with shared state, in Redis under
`<namespace>:routing:<key>`, so every replica routes the same conversation the same way.
Identical conversations arriving together are classified once: in this process the later
ones wait for the first (`_flights`); across replicas the first takes a short Redis lock
(`SET NX PX`) and the others poll for its answer until it comes, the lock goes (its holder
failed or ended without a decision), or the classifier's own timeout passes. A waiter that
gets nothing classifies itself, so waiting never costs more than one classifier timeout.

Redis is optional here as everywhere (api/shared_state.py): when it fails, the decision is
made and kept in this process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from cachetools import TTLCache

from api.routing.decision import RoutePath
from api.shared_state import SharedState

FEATURE = "routing"
POLL_SECONDS = 0.025

Classify = Callable[[], Awaitable[RoutePath | None]]


class _Abandoned:
    """What a flight resolves to when its owner ended without deciding (e.g. it was cancelled)."""


ABANDONED = _Abandoned()


class DecisionCache:
    """Decisions by key; `decide` classifies only when nobody has (or is) for that key."""

    def __init__(
        self,
        state: SharedState,
        *,
        namespace: str,
        ttl_seconds: float,
        max_entries: int,
        wait_seconds: float,
    ) -> None:
        self.state = state
        self.namespace = namespace
        self.enabled = ttl_seconds > 0 and max_entries > 0
        self.ttl_ms = int(ttl_seconds * 1000)
        self.wait_seconds = wait_seconds
        self.local: TTLCache[str, RoutePath] = TTLCache(maxsize=max(1, max_entries), ttl=max(ttl_seconds, 0.001))
        self._flights: dict[str, asyncio.Future[RoutePath | _Abandoned | None]] = {}

    async def decide(self, key: str, classify: Classify) -> RoutePath | None:
        """The decision for `key`: kept, another's in flight, or `classify()`'s (None: it fell back)."""
        if not self.enabled:
            return await classify()
        if (kept := await self._kept(key)) is not None:
            return kept
        flight = self._flights.get(key)
        if flight is not None:
            # An identical conversation is being classified in this process: its answer is ours.
            result = await asyncio.shield(flight)
            if not isinstance(result, _Abandoned):
                return result
            return await classify()
        flight = self._flights[key] = asyncio.get_running_loop().create_future()
        result: RoutePath | _Abandoned | None = ABANDONED
        try:
            result = await self._decide_once(key, classify)
            return result
        finally:
            del self._flights[key]
            flight.set_result(result)

    def key_of(self, key: str) -> str:
        return f"{self.namespace}:{FEATURE}:{key}"

    async def _kept(self, key: str) -> RoutePath | None:
        if (path := self.local.get(key)) is not None:
            return path
        redis = self.state.redis
        if redis is None or not self.state.usable():
            return None
        try:
            value = await redis.get(self.key_of(key))
        except self.state.errors as exc:
            self.state.fall_back(FEATURE, exc)
            return None
        self.state.succeeded()
        return self._remember(key, value)

    async def _decide_once(self, key: str, classify: Classify) -> RoutePath | None:
        lock = None
        redis = self.state.redis
        if redis is not None and self.state.usable():
            try:
                lock = await self._lock_or_wait(key)
            except self.state.errors as exc:
                self.state.fall_back(FEATURE, exc)
            else:
                if isinstance(lock, RoutePath):  # another replica decided while we waited
                    return lock
        path = await classify()
        if path is not None:
            self.local[key] = path
        if redis is not None and (isinstance(lock, str) or (path is not None and self.state.usable())):
            try:
                if path is not None:
                    await redis.set(self.key_of(key), path.value, px=self.ttl_ms)
                if isinstance(lock, str):
                    await redis.delete(self._lock_key(key))
            except self.state.errors as exc:
                self.state.fall_back(FEATURE, exc)
        return path

    async def _lock_or_wait(self, key: str) -> str | RoutePath | None:
        """Our lock's token; or the decision another replica made while we waited; or None
        (nobody decided in time: classify without the lock)."""
        redis = self.state.redis
        assert redis is not None
        token = uuid.uuid4().hex
        lock_ms = int(self.wait_seconds * 1000)
        if await redis.set(self._lock_key(key), token, nx=True, px=lock_ms):
            self.state.succeeded()
            return token
        deadline = asyncio.get_running_loop().time() + self.wait_seconds
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            value, held = await redis.mget(self.key_of(key), self._lock_key(key))
            if (path := self._remember(key, value)) is not None:
                return path
            if held is None:  # the holder ended without a decision (its classifier fell back)
                return None
        return None

    def _lock_key(self, key: str) -> str:
        return f"{self.namespace}:{FEATURE}:lock:{key}"

    def _remember(self, key: str, value: bytes | None) -> RoutePath | None:
        if value is None:
            return None
        try:
            path = RoutePath(value.decode())
        except ValueError:  # written by a version with other paths: decide again
            return None
        self.local[key] = path
        return path
