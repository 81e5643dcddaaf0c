"""bench/tcp_forward.py, the TTFT floor docs/benchmarks.md compares hops with: what goes in one
side comes out of the other, both ways, byte for byte, and a close on one side closes the other."""

from __future__ import annotations

import asyncio
import contextlib

from bench.tcp_forward import serve
from tests.support.processes import free_port


async def test_bytes_cross_the_forwarder_both_ways_and_a_close_reaches_the_client() -> None:
    async def upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readexactly(5)
        writer.write(b"echo:" + request)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    upstream_port = server.sockets[0].getsockname()[1]
    port = free_port()
    forwarder = asyncio.create_task(serve(port, "127.0.0.1", upstream_port))
    try:
        for _ in range(50):
            with contextlib.suppress(ConnectionError):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"the forwarder never listened on {port}")
        writer.write(b"hello")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=5) == b"echo:hello"
        writer.close()
    finally:
        forwarder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await forwarder
        server.close()
