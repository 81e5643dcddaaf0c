"""Builds the gateway's single `AsyncOpenAI` client (one connection pool to LiteLLM)."""

from __future__ import annotations

import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient

# The SDK's own aiohttp transport (what DefaultAioHttpClient builds); imported so the pool
# bound can wrap it. A move in a new SDK release fails start-up, never silently unbounds.
from openai._vendor.httpx_aiohttp import AiohttpTransport

from api.config import Settings
from api.upstream.pool import PoolAdmission


def build_llm_client(settings: Settings) -> AsyncOpenAI:
    """One client for the app's lifetime, with explicit timeouts, pool and retries.

    The SDK defaults (600 s timeout, 2 retries) suit a script, not a gateway in front
    of LiteLLM, which already retries; the read timeout also bounds each stream chunk.
    A call that finds all LLM_MAX_CONNECTIONS busy for LLM_POOL_TIMEOUT raises
    `httpx2.PoolTimeout` whatever the transport (api/upstream/pool.py): 503 `overloaded`.
    """
    timeout = httpx2.Timeout(
        connect=settings.llm_connect_timeout,
        read=settings.llm_read_timeout,
        write=settings.llm_write_timeout,
        pool=settings.llm_pool_timeout,
    )
    limits = httpx2.Limits(
        max_connections=settings.llm_max_connections,
        # The aiohttp transport keeps every idle connection up to the limit; this
        # bound applies to the httpx transport only.
        max_keepalive_connections=settings.llm_max_keepalive_connections,
        keepalive_expiry=settings.llm_keepalive_expiry,
    )
    if settings.llm_http_transport == "aiohttp":
        http_client_class, transport = DefaultAioHttpClient, AiohttpTransport(limits=limits)
    else:
        http_client_class, transport = DefaultAsyncHttpxClient, httpx2.AsyncHTTPTransport(limits=limits)
    return AsyncOpenAI(
        api_key=settings.llm_api_key.get_secret_value(),
        base_url=settings.llm_base_url,
        timeout=timeout,
        max_retries=settings.llm_max_retries,
        http_client=http_client_class(
            timeout=timeout, transport=PoolAdmission(transport, settings.llm_max_connections)
        ),
    )
