"""A TCP forwarder the test controls: the way to make a shared database "go down" safely.

The Postgres server on the machine is shared, so tests never stop it. Instead the gateway
reaches it through this forwarder; `close()` stops listening (new connections are refused)
and cuts every forwarded connection, like a server that died; `open()` brings it back on
the same port. It runs on its own event loop in a thread, so sync and async tests alike
can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from tests.support.processes import free_port


class TcpForwarder:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.host = "127.0.0.1"
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    def open(self) -> None:
        """Listen (again) and forward."""
        asyncio.run_coroutine_threadsafe(self._open(), self._loop).result(timeout=5)

    def close(self) -> None:
        """Refuse new connections and cut the forwarded ones."""
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(timeout=5)

    def stop(self) -> None:
        self.close()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)

    async def _open(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._forward, self.host, self.port, reuse_address=True)

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()
        self._connections.clear()

    async def _forward(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._connections.update((client_writer, server_writer))
        try:
            await asyncio.gather(_pipe(client_reader, server_writer), _pipe(server_reader, client_writer))
        finally:
            self._connections.difference_update((client_writer, server_writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
