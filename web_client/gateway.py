"""The web client's side of the gateway: one `AsyncOpenAI` client, and failures as page errors.

The web client talks to the gateway only through its public OpenAI-compatible API, with
the official SDK, so it is also the gateway's first real client. Every failure reaches
the page in the gateway's own error shape, `{"error": {"message", "type", "code", ...}}`,
with the gateway's status; failures of the web client itself (the gateway unreachable,
a broken stream) use the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx2
import openai
import orjson
from openai import AsyncOpenAI
from starlette.responses import JSONResponse

from web_client.config import WebClientSettings

# The SDK insists on a key; a gateway with REQUIRE_AUTH=false ignores whatever is sent.
NO_TOKEN = "no-token-configured"
# Headers of a gateway answer the page shows (routing, request id, trace) or needs (retry-after).
FORWARDED_HEADERS = ("x-request-id", "x-routing-path", "x-routing-reason", "x-trace-id", "retry-after")


def build_gateway_client(settings: WebClientSettings) -> AsyncOpenAI:
    """One client for the app's lifetime; no retries: the person at the page decides to retry."""
    timeout = httpx2.Timeout(connect=5.0, read=settings.read_timeout, write=10.0, pool=5.0)
    return AsyncOpenAI(
        api_key=settings.api_token.get_secret_value() or NO_TOKEN,
        base_url=settings.gateway_url + "/v1",
        timeout=timeout,
        max_retries=0,
    )


def forwarded_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The gateway response headers the page gets, under their canonical names."""
    return {name: headers[name] for name in FORWARDED_HEADERS if headers.get(name)}


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(exc: openai.APIError, gateway_url: str) -> JSONResponse:
    """A failed gateway call as the page's answer: the gateway's status, body and headers, or 502/504."""
    if isinstance(exc, openai.APIStatusError):
        return JSONResponse(
            {"error": _gateway_error(exc)}, exc.status_code, headers=forwarded_headers(exc.response.headers)
        )
    if isinstance(exc, openai.APITimeoutError):
        message = f"The gateway at {gateway_url} did not answer in time."
        return JSONResponse(error_body(message, "gateway_unreachable", "gateway_timeout"), 504)
    detail = str(exc.__cause__ or exc) or exc.__class__.__name__
    message = f"The web client could not reach the gateway at {gateway_url}: {detail}"
    return JSONResponse(error_body(message, "gateway_unreachable", "gateway_unreachable"), 502)


def _gateway_error(exc: openai.APIStatusError) -> dict[str, Any]:
    """The gateway's OpenAI-shaped error object, kept as it was (a hint added to a 401)."""
    error = exc.body if isinstance(exc.body, dict) and exc.body.get("message") else None
    if error is None:
        error = error_body(str(exc.body or exc.message), "gateway_error")["error"]
    if exc.status_code == 401:
        hint = (
            "The gateway refused the web client's token: set WEB_CLIENT_API_TOKEN to one of the gateway's API_TOKENS."
        )
        error = {**error, "message": f"{hint} Gateway said: {error['message']}"}
    return error


def broken_stream_event(exc: BaseException, gateway_url: str) -> bytes:
    """The SSE error event (then `[DONE]`) that ends a stream whose gateway connection broke.

    It starts with a blank line so a half-received event before it is closed off, and it has
    the shape of the gateway's own mid-stream errors, so the page shows both the same way.
    """
    detail = str(exc) or exc.__class__.__name__
    body = error_body(
        f"The connection to the gateway at {gateway_url} broke mid-answer: {detail}",
        "gateway_unreachable",
        "gateway_stream_broken",
    )
    return b"\n\ndata: " + orjson.dumps(body) + b"\n\ndata: [DONE]\n\n"
