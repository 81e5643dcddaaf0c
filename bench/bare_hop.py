"""Benchmark configuration 6: the bare hop, a minimal FastAPI passthrough with no features.

No auth, routing, metrics, audit, tracing or logging: one handler that forwards the body with
a shared `AsyncOpenAI` (aiohttp transport, raw responses) and returns the upstream's bytes.
It is the ceiling a Python hop can reach; the gateway's goal is ≥ 80% of its throughput.

    BARE_HOP_UPSTREAM=http://127.0.0.1:9000/v1 uvicorn --factory bench.bare_hop:create_app
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
from fastapi import FastAPI, Request
from openai import AsyncOpenAI, DefaultAioHttpClient
from starlette.responses import Response, StreamingResponse


def create_app() -> FastAPI:
    state: dict[str, AsyncOpenAI] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state["llm"] = AsyncOpenAI(
            api_key="bench", base_url=os.environ["BARE_HOP_UPSTREAM"], max_retries=0, http_client=DefaultAioHttpClient()
        )
        yield
        await state["llm"].close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        body = await request.body()
        headers = {"Content-Type": "application/json"}
        llm = state["llm"]
        if b'"stream":true' not in body.replace(b" ", b""):
            upstream = await llm.post(
                "/chat/completions", cast_to=httpx2.Response, content=body, options={"headers": headers}
            )
            return Response(upstream.content, media_type="application/json")
        upstream = await llm.post(
            "/chat/completions", cast_to=httpx2.Response, content=body, options={"headers": headers}, stream=True
        )

        async def relay() -> AsyncIterator[bytes]:
            try:
                async for chunk in upstream.aiter_bytes():
                    yield chunk
            finally:
                await upstream.aclose()

        return StreamingResponse(relay(), media_type="text/event-stream")

    return app
