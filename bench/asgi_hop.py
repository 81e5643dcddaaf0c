"""The smallest Python HTTP hop: a pure ASGI app on uvicorn, no framework, no features.

It reads the body and streams the upstream's bytes back, through aiohttp itself
(`ASGI_HOP_CLIENT=aiohttp`) or through the openai SDK's `AsyncOpenAI.post` on the same aiohttp
transport (`ASGI_HOP_CLIENT=sdk`), so bench/ttft_split.py can price the SDK's part of a hop's
time to first token apart from the framework's (bench/bare_hop.py is FastAPI with the SDK).

    ASGI_HOP_UPSTREAM=http://127.0.0.1:9101/v1 ASGI_HOP_CLIENT=sdk \
        uvicorn --factory bench.asgi_hop:create_app --port 9105
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
_JSON = {"Content-Type": "application/json"}
_STREAM_HEADERS = [(b"content-type", b"text/event-stream")]


def create_app() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    upstream, client = os.environ["ASGI_HOP_UPSTREAM"], os.environ.get("ASGI_HOP_CLIENT", "aiohttp")
    if client not in ("aiohttp", "sdk"):
        raise ValueError(f"ASGI_HOP_CLIENT must be aiohttp or sdk, not {client!r}")
    held: dict[str, Any] = {}

    async def open_clients() -> None:
        if client == "aiohttp":
            held["session"] = aiohttp.ClientSession()
        else:
            http = DefaultAioHttpClient()
            held["llm"] = AsyncOpenAI(api_key="bench", base_url=upstream, max_retries=0, http_client=http)

    async def close_clients() -> None:
        if "session" in held:
            await held["session"].close()
        if "llm" in held:
            await held["llm"].close()

    async def chunks(body: bytes) -> AsyncIterator[bytes]:
        if client == "aiohttp":
            response = await held["session"].post(f"{upstream}/chat/completions", data=body, headers=_JSON)
            try:
                async for chunk in response.content.iter_any():
                    yield chunk
            finally:
                response.release()
            return
        options = {"headers": _JSON}
        sdk_response = await held["llm"].post(
            "/chat/completions", cast_to=httpx2.Response, content=body, options=options, stream=True
        )
        try:
            async for chunk in sdk_response.aiter_bytes():
                yield chunk
        finally:
            await sdk_response.aclose()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await open_clients()
                await send({"type": "lifespan.startup.complete"})
            await close_clients()
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        started = False
        async for chunk in chunks(body):
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": _STREAM_HEADERS})
                started = True
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app
