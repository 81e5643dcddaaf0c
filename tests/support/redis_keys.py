"""Keys of a test's own on the machine's real Redis, deleted when the test ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio

TEST_REDIS_URL = "redis://127.0.0.1:6379/13"


@asynccontextmanager
async def redis_namespace(label: str, url: str = TEST_REDIS_URL) -> AsyncIterator[str]:
    """A key prefix nobody else uses; every key under it is deleted afterwards."""
    prefix = f"{label}-{uuid.uuid4().hex[:8]}"
    try:
        yield prefix
    finally:
        connection = redis.asyncio.Redis.from_url(url)
        keys = [key async for key in connection.scan_iter(f"{prefix}:*")]
        if keys:
            await connection.delete(*keys)
        await connection.aclose()
