"""Where the limit counters live: this process, or the shared Redis (api/shared_state.py).

With Redis, the counters in this process stay ready beside it: they count whenever Redis
is out, so a Redis outage turns the limits per process instead of failing requests.
"""

from __future__ import annotations

from api.clients.admission import ClientLimits, Clock, Counters, utc_now
from api.clients.budget import MemoryLedger, RedisLedger
from api.clients.concurrency import MemorySlots, RedisSlots
from api.clients.limiter import RateWindows, storage_for
from api.shared_state import SharedState


def local_counters(key_prefix: str) -> Counters:
    return Counters(RateWindows(storage_for(None, key_prefix)), MemorySlots(), MemoryLedger())


def client_limits(state: SharedState, key_prefix: str, clock: Clock = utc_now) -> ClientLimits:
    """The limits of every client, counted in `state`'s Redis when it has one, else in this process."""
    shared = None
    if state.redis is not None:
        redis = state.redis
        shared = Counters(
            RateWindows(storage_for(redis, key_prefix)), RedisSlots(redis, key_prefix), RedisLedger(redis, key_prefix)
        )
    return ClientLimits(state, local_counters(key_prefix), shared, clock)
