"""Builds the gateway's single `AsyncOpenAI` client (one connection pool to LiteLLM)."""

from __future__ import annotations

from typing import Any

import httpx2
from openai import AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient
from openai._models import FinalRequestOptions

# The SDK's own aiohttp transport (what DefaultAioHttpClient builds); imported so the pool
# bound can wrap it. A move in a new SDK release fails start-up, never silently unbounds.
from openai._vendor.httpx_aiohttp import AiohttpTransport

from api.config import Settings
from api.upstream.pool import PoolAdmission


class GatewayOpenAI(AsyncOpenAI):
    """The SDK's client, with a short way to build the gateway's own upstream calls.

    Passthrough POSTs a body that is already JSON bytes (api/paths/passthrough.py). For
    each such call the SDK merges the same auth, default and client headers and parses
    the same URL again (about a twentieth of the gateway's CPU per request in the profile
    in docs/benchmarks.md). Here the SDK builds that request once per key, path, timeout
    and security; later calls copy it and add their own headers and retry count. Sending,
    retries, the pool and errors stay the SDK's, and every other call takes its path
    unchanged. tests/unit/test_llm_client.py pins that both ways build the same request.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._templates: dict[tuple[str, ...], httpx2.Request] = {}

    def _build_request(self, options: FinalRequestOptions, *, retries_taken: int = 0) -> httpx2.Request:
        custom = options.headers if isinstance(options.headers, dict) else {}
        if self._idempotency_header is not None or not _is_ready_post(options) or not _plain_headers(custom):
            return super()._build_request(options, retries_taken=retries_taken)
        template = self._template(options)
        headers = template.headers.copy()
        for name, value in custom.items():
            headers[name] = value
        headers[_RETRY_COUNT] = str(retries_taken)
        return httpx2.Request(
            template.method,
            template.url,
            headers=headers,
            content=options.content,
            extensions=dict(template.extensions),
        )

    def _template(self, options: FinalRequestOptions) -> httpx2.Request:
        """The SDK's own request for this path, timeout and security, with no body and no
        per-call headers, built once."""
        key = (str(self.api_key), options.url, repr(options.timeout), repr(options.security))
        template = self._templates.get(key)
        if template is None:
            bare = options.model_copy(update={"headers": {}, "content": b""})
            template = super()._build_request(bare)
            for name in ("host", "content-length", _RETRY_COUNT):
                template.headers.pop(name, None)  # set again for each call
            self._templates[key] = template
        return template


_RETRY_COUNT = "x-stainless-retry-count"
_SDK_HEADERS = (_RETRY_COUNT, "x-stainless-read-timeout")


def _is_ready_post(options: FinalRequestOptions) -> bool:
    """A POST of ready bytes: no JSON to encode, no files, no query, no extra body."""
    return (
        options.method == "post"
        and isinstance(options.content, bytes)
        and options.json_data is None
        and options.extra_json is None
        and options.files is None
        and not options.params
    )


def _plain_headers(headers: dict[str, Any]) -> bool:
    """Per-call headers that are plain strings and leave the SDK's own alone."""
    return all(isinstance(value, str) and name.lower() not in _SDK_HEADERS for name, value in headers.items())


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
    return GatewayOpenAI(
        api_key=settings.llm_api_key.get_secret_value(),
        base_url=settings.llm_base_url,
        timeout=timeout,
        max_retries=settings.llm_max_retries,
        http_client=http_client_class(
            timeout=timeout, transport=PoolAdmission(transport, settings.llm_max_connections)
        ),
    )
