"""A bound on concurrent upstream calls that says "full" the same way for every transport.

httpx's pool raises `httpx2.PoolTimeout` when no connection frees up within the pool
timeout; the aiohttp transport raises the same `ConnectionTimeoutError` for a full pool
and for a host that does not answer the TCP handshake, so the gateway could not tell
"we are overloaded" (503) from "the upstream is unreachable". `PoolAdmission` sits in
front of either transport with one slot per allowed connection: a call takes a slot (or
raises `httpx2.PoolTimeout` after the pool timeout) and gives it back when its response
is closed, so a stream holds its slot until it ends. The transport under it has the same
limit and so never waits itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx2


class PoolAdmission(httpx2.AsyncBaseTransport):
    def __init__(self, transport: httpx2.AsyncBaseTransport, max_connections: int) -> None:
        self._transport = transport
        self._slots = asyncio.Semaphore(max_connections)
        self.max_connections = max_connections

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if self._slots.locked():
            await self._wait_for_slot(request)
        else:
            await self._slots.acquire()  # free: no wait, so no timer on the hot path
        release = _Once(self._slots.release)
        try:
            response = await self._transport.handle_async_request(request)
        except BaseException:
            release()
            raise
        if response.is_closed:  # a body already read whole holds no connection
            release()
        else:
            response.stream = _SlotHoldingStream(response.stream, release)
        return response

    async def _wait_for_slot(self, request: httpx2.Request) -> None:
        pool_timeout = request.extensions.get("timeout", {}).get("pool")
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout(
                f"all {self.max_connections} upstream connections (LLM_MAX_CONNECTIONS) stayed busy "
                f"for {pool_timeout} s (LLM_POOL_TIMEOUT)",
                request=request,
            ) from None

    async def aclose(self) -> None:
        await self._transport.aclose()


class _Once:
    """Calls `action` the first time only: a response may be closed more than once."""

    def __init__(self, action: object) -> None:
        self._action = action

    def __call__(self) -> None:
        action, self._action = self._action, None
        if callable(action):
            action()


class _SlotHoldingStream(httpx2.AsyncByteStream):
    def __init__(self, stream: httpx2.AsyncByteStream, release: _Once) -> None:
        self._stream = stream
        self._release = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:
            yield part

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            self._release()
