"""Waiting for background work that has no completion signal (the audit writer, a replay)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

WAIT_SECONDS = 60.0


async def until_equal(read: Callable[[], Any], expected: object, within: float = WAIT_SECONDS) -> None:
    """Poll `read()` (sync or async) until it returns `expected`; fail with the last value seen."""
    deadline = time.monotonic() + within
    while True:
        value = read()
        if inspect.isawaitable(value):
            value = await value
        if value == expected:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"expected {expected!r}, still {value!r} after {within:.0f}s")
        await asyncio.sleep(0.05)
