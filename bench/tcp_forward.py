"""The floor of any hop: a byte-for-byte TCP forwarder, no HTTP parsing, no Python per request
beyond two copy loops. Whatever a gateway adds to time to first token above this is its own.

    python bench/tcp_forward.py --port 9104 --upstream 127.0.0.1:9101
    python bench/stream_client.py ttft http://127.0.0.1:9101/v1/chat/completions \
        http://127.0.0.1:9104/v1/chat/completions ...
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib

import uvloop


async def copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()  # a slow reader holds the other side back, as a real hop would
    finally:
        writer.close()


async def serve(port: int, host: str, upstream_port: int) -> None:
    async def forward(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, upstream_port)
        with contextlib.suppress(ConnectionError):
            await asyncio.gather(copy(client_reader, upstream_writer), copy(upstream_reader, client_writer))

    server = await asyncio.start_server(forward, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="host:port")
    args = parser.parse_args()
    host, _, port = args.upstream.rpartition(":")
    uvloop.run(serve(args.port, host, int(port)))


if __name__ == "__main__":
    main()
