"""Budgets: what each client spent in the current UTC day or month, against `budget_usd`.

Periods are pure functions of a UTC time. The ledger counts in memory or in Redis (one
key per client and period, `INCRBYFLOAT`, expiring after the period has ended); it is
seeded at start-up from the audit store, so a restart does not forget what was spent
(Redis keeps its own figure: the seed only fills a key that does not exist yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from api.clients.model import BudgetPeriod

if TYPE_CHECKING:
    from redis.asyncio import Redis


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return self.start.strftime("%Y-%m-%d")

    def seconds_left(self, now: datetime) -> float:
        return max(0.0, (self.end - now).total_seconds())


def period_of(now: datetime, period: BudgetPeriod) -> Period:
    """The UTC day or month that contains `now`."""
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return Period(start, start + timedelta(days=1))
    start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return Period(start, end)


class Ledger(Protocol):
    async def spent(self, name: str, period: Period) -> float: ...

    async def add(self, name: str, period: Period, usd: float) -> None: ...

    async def seed(self, name: str, period: Period, usd: float) -> None:
        """Start the period's figure at `usd` unless the ledger has one already."""


class MemoryLedger:
    def __init__(self) -> None:
        self._spent: dict[tuple[str, str], float] = {}

    async def spent(self, name: str, period: Period) -> float:
        return self._spent.get((name, period.label), 0.0)

    async def add(self, name: str, period: Period, usd: float) -> None:
        key = (name, period.label)
        self._spent[key] = self._spent.get(key, 0.0) + usd

    async def seed(self, name: str, period: Period, usd: float) -> None:
        self._spent.setdefault((name, period.label), usd)


class RedisLedger:
    def __init__(self, redis: Redis, key_prefix: str) -> None:
        self.redis = redis
        self.key_prefix = key_prefix

    def key(self, name: str, period: Period) -> str:
        return f"{self.key_prefix}:budget:{name}:{period.label}"

    async def spent(self, name: str, period: Period) -> float:
        value = await self.redis.get(self.key(name, period))
        return float(value) if value is not None else 0.0

    async def add(self, name: str, period: Period, usd: float) -> None:
        key = self.key(name, period)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incrbyfloat(key, usd)
            pipe.expire(key, _kept_for(period))
            await pipe.execute()

    async def seed(self, name: str, period: Period, usd: float) -> None:
        await self.redis.set(self.key(name, period), repr(usd), nx=True, ex=_kept_for(period))


def _kept_for(period: Period) -> int:
    """Seconds a period's key is kept: past the period's end whenever within it it was written."""
    return int((period.end - period.start + timedelta(days=1)).total_seconds())
