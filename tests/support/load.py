"""A bounded load generator for the reliability suite: N requests at concurrency C, counted.

Every request ends in exactly one bucket: an HTTP answer (by status, complete or not) or a
reset (the connection failed with no answer at all: what a client can never recover from).
The figures are printed by the tests and asserted, so a run shows what it measured.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.waiting import until_equal


@dataclass
class LoadResult:
    sent: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    #: 200 answers that arrived whole: a JSON body, or a stream that ended with `data: [DONE]`.
    complete: int = 0
    resets: int = 0
    reset_samples: list[str] = field(default_factory=list)
    #: Requests the client gave up on (its own `request_timeout`): slow, not reset.
    timeouts: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    #: The gateway's X-Request-Id of every complete answer.
    request_ids: list[str] = field(default_factory=list)
    #: The gateway's X-Request-Id of every answer, complete or not.
    answered_ids: list[str] = field(default_factory=list)
    #: The headers of every answer, in the order they arrived (e.g. which replica a load balancer chose).
    answer_headers: list[httpx.Headers] = field(default_factory=list)
    #: The OpenAI error code of each answer that carried one (an error body, or a stream's last event).
    error_codes: Counter[str] = field(default_factory=Counter)

    def p(self, quantile: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        return (
            f"sent {self.sent}, complete {self.complete}, resets {self.resets}, timeouts {self.timeouts} ({statuses}); "
            f"p50 {self.p(0.5):.1f} ms, p99 {self.p(0.99):.1f} ms"
        )


async def run_load(
    url: str,
    body_for: Callable[[int], dict[str, Any]],
    *,
    requests: int,
    concurrency: int,
    headers: dict[str, str] | None = None,
    headers_for: Callable[[int], dict[str, str]] | None = None,
    request_timeout: float = 30.0,
    result: LoadResult | None = None,
) -> LoadResult:
    """POST `requests` chat bodies to `url` with at most `concurrency` in flight.

    Pass `result` to watch the figures while the load runs (the test that takes a database
    down mid-run waits for a number of answers first).
    """
    result = result if result is not None else LoadResult()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            index = queue.get_nowait()
            body = body_for(index)
            request_headers = {**(headers or {}), **(headers_for(index) if headers_for else {})}
            result.sent += 1
            started = time.perf_counter()
            try:
                async with client.stream("POST", url, json=body, headers=request_headers) as response:
                    payload = await response.aread()
            except httpx.TimeoutException:
                result.timeouts += 1
                continue
            except httpx.TransportError as exc:
                result.resets += 1
                if len(result.reset_samples) < 5:
                    result.reset_samples.append(f"#{index}: {exc!r}")
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[response.status_code] += 1
            result.answered_ids.append(response.headers.get("x-request-id", ""))
            result.answer_headers.append(response.headers)
            code = _error_code(payload)
            if code is not None:
                result.error_codes[code] += 1
            if response.status_code == 200 and _is_whole(payload, bool(body.get("stream"))):
                result.complete += 1
                result.request_ids.append(response.headers.get("x-request-id", ""))

    async with httpx.AsyncClient(timeout=request_timeout, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return result


async def until_answered(result: LoadResult, count: int) -> None:
    """Wait until the load has `count` complete answers (or fail with its figures)."""
    try:
        await until_equal(lambda: result.complete >= count, True)
    except AssertionError:
        raise AssertionError(f"fewer than {count} complete answers: {result.summary()}") from None


def _error_code(payload: bytes) -> str | None:
    """The `error.code` of a JSON error answer or of a stream's `data: {"error": ...}` event."""
    start = payload.find(b'{"error"')
    if start < 0:
        return None
    try:
        error = json.loads(payload[start:].split(b"\n", 1)[0])["error"]
    except (ValueError, KeyError, TypeError):
        return "unparsable"
    return str(error.get("code") or error.get("type"))


def _is_whole(payload: bytes, stream: bool) -> bool:
    if stream:
        return payload.rstrip().endswith(b"data: [DONE]") and b'data: {"error"' not in payload
    return payload.startswith(b"{") and b'"choices"' in payload
