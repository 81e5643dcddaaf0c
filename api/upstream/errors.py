"""Upstream failures → `GatewayError`, translated once, here at the boundary.

Three shapes of failure come back from the upstream:

- an HTTP status before any byte of the answer (`openai.APIStatusError`);
- no answer at all: refused, reset or timed out (`openai.APIConnectionError` /
  `APITimeoutError` from SDK calls, raw `httpx2` errors while reading a raw stream);
  a call that found every pooled connection busy (`httpx2.PoolTimeout`, raised for both
  transports by api/upstream/pool.py) is the gateway overloaded, 503 `overloaded`;
- a stream that broke after it started: an `{"error": ...}` event inside it (how LiteLLM
  reports a provider failure), the connection cut, or the SDK's `APIError` for either;
  all are `upstream_stream_error` (`translate_stream_exception`), except a stream that
  stalled past the per-chunk read timeout, which stays `upstream_timeout`.

Error bodies never name the upstream's address or a key: the gateway's own messages say
"the upstream", the upstream's messages are passed through `scrubbed`, and the full detail
of a transport failure goes to the log only.

LiteLLM reports some gateway-side problems in ways an SDK user would misread (a wrong
`LLM_API_KEY` is a 400 "No connected db."; a missing provider key is a 500 "Missing
credentials"); those become a 502 that names the setting to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp
import httpx2
import openai
import structlog

from api.errors import (
    GatewayError,
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConfigError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)

_UNKNOWN_MODEL_HINTS = ("no healthy deployments", "invalid model name", "model_not_found", "does not exist")
_MISSING_PROVIDER_KEY_HINTS = ("missing credentials", "api_key client option must be set")
_PROXY_KEY_REJECTED_TYPES = ("no_db_connection", "auth_error")
log = structlog.get_logger("api.upstream")
# Anything that looks like a URL (scheme://...) or a provider/LiteLLM key (sk-...).
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>)\]]+")
_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")
#: Seconds an overloaded client is asked to wait: pooled calls are short, a slot frees soon.
OVERLOADED_RETRY_AFTER = "1"


def scrubbed(text: str) -> str:
    """`text` without URLs or keys: what an upstream's message may show a client."""
    return _KEY.sub("sk-***", _URL.sub("<url>", text))


def translate_exception(exc: BaseException) -> GatewayError:
    """Any exception raised while talking to the upstream, as the error the client sees."""
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, openai.APIStatusError):
        return from_status(exc.status_code, exc.body, exc.response.headers)
    full = next((link for link in _chain(exc) if isinstance(link, httpx2.PoolTimeout)), None)
    if full is not None:
        return ServiceUnavailableError(
            f"The gateway is overloaded: {full}. Retry shortly.",
            code="overloaded",
            headers={"retry-after": OVERLOADED_RETRY_AFTER},
        )
    # The root's own text names hosts and ports: the log has it, the client gets its kind.
    log.warning("upstream_failure", error=_describe(exc))
    kind = _root(exc).__class__.__name__
    if _is_timeout(exc):
        return UpstreamTimeoutError(f"The upstream did not answer in time ({kind}).")
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return UpstreamError(
            f"Could not complete the exchange with the upstream ({kind}).", code="upstream_unreachable"
        )
    return UpstreamError(f"Unexpected upstream failure ({kind}).")


def translate_stream_exception(exc: BaseException) -> GatewayError:
    """An exception raised while reading a stream that had started, as the final error event.

    A stall past the per-chunk read timeout stays a timeout; anything else (the connection
    cut, the SDK's `APIError` for an error event) is `upstream_stream_error`.
    """
    if isinstance(exc, GatewayError):
        return exc
    if _is_timeout(exc):
        return translate_exception(exc)
    if isinstance(exc, openai.APIError) and not isinstance(exc, openai.APIConnectionError | openai.APIStatusError):
        # The SDK raises a bare APIError for an `{"error": ...}` event it read.
        return from_error_event({"error": exc.body if isinstance(exc.body, dict) else exc.message})
    log.warning("upstream_stream_broke", error=_describe(exc))
    return UpstreamError(
        f"The upstream stream broke after it started ({_root(exc).__class__.__name__}).", code="upstream_stream_error"
    )


def from_status(status: int, body: object, headers: Mapping[str, str]) -> GatewayError:
    """An upstream HTTP error status (with its decoded body) as a gateway error."""
    error = body if isinstance(body, dict) else {}
    message = scrubbed(str(error.get("message") or body or f"HTTP {status}"))
    error_type = str(error.get("type") or "")
    lowered = message.lower()

    if status == 429:
        retry_after = headers.get("retry-after") or headers.get("llm_provider-retry-after")
        return RateLimitError(
            f"The upstream is rate limiting: {message}",
            headers={"retry-after": retry_after} if retry_after else {},
        )
    if status in (401, 403) or error_type in _PROXY_KEY_REJECTED_TYPES:
        return UpstreamConfigError(
            "The upstream rejected the gateway's credentials: check LLM_API_KEY (a LiteLLM virtual key, "
            f"or the master key without a database) and the provider key LiteLLM uses. Upstream said: {message}"
        )
    if status >= 500 and any(hint in lowered for hint in _MISSING_PROVIDER_KEY_HINTS):
        return UpstreamConfigError(
            "The model provider has no API key: set OPENAI_API_KEY in the LiteLLM proxy's environment "
            f"(for `make run`, in .env) and restart it. Upstream said: {message}"
        )
    if status == 404 or (status == 400 and any(hint in lowered for hint in _UNKNOWN_MODEL_HINTS)):
        return NotFoundError(message, code="model_not_found", param="model")
    if status >= 500:
        return UpstreamError(f"The upstream failed with status {status}: {message}")
    code = error.get("code")
    param = error.get("param")
    return UpstreamRejectedError(
        status,
        error_type or "invalid_request_error",
        message,
        code=str(code) if code is not None else None,
        param=str(param) if param is not None else None,
    )


def from_error_event(event: Mapping[str, Any]) -> GatewayError:
    """An `{"error": {...}}` event inside an upstream stream, as a gateway error."""
    error = event.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    text = scrubbed(str(message)) if message else "no details"
    return UpstreamError(f"The upstream stream failed: {text}", code="upstream_stream_error")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _root(exc: BaseException) -> BaseException:
    *_, last = _chain(exc)
    return last


def _is_timeout(exc: BaseException) -> bool:
    links = list(_chain(exc))
    # The aiohttp transport maps every aiohttp connection error (refused included) to
    # httpx2.ConnectTimeout, so when aiohttp raised, its own exception class decides.
    aiohttp_links = [link for link in links if isinstance(link, aiohttp.ClientError)]
    if aiohttp_links:
        return isinstance(aiohttp_links[-1], TimeoutError)
    return any(isinstance(link, TimeoutError | httpx2.TimeoutException) for link in links)


def _describe(exc: BaseException) -> str:
    root = _root(exc)
    text = str(root) or root.__class__.__name__
    return f"{root.__class__.__name__}: {text}" if text != root.__class__.__name__ else text
