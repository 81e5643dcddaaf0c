"""OpenAI's rate-limit headers and `Retry-After`, as pure functions of the window figures.

`x-ratelimit-reset-*` is a duration in OpenAI's (Go's) format: `20ms`, `1.5s`, `6m0s`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Every header a limited client's answer may carry (CORS exposes them to browsers).
RATE_LIMIT_HEADERS = (
    *(f"x-ratelimit-{part}-{kind}" for kind in ("requests", "tokens") for part in ("limit", "remaining", "reset")),
    "retry-after",
)


@dataclass(frozen=True, slots=True)
class WindowState:
    """One per-minute limit as a client sees it after this request."""

    limit: int
    remaining: int
    reset_seconds: float  # until the window frees capacity again


def duration(seconds: float) -> str:
    """`seconds` in OpenAI's duration format: `0s`, `250ms`, `1.5s`, `59s`, `1m0s`, `6m30.25s`."""
    millis = max(0, math.ceil(seconds * 1000))
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    minutes, millis = divmod(millis, 60_000)
    secs = f"{millis / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def retry_after(seconds: float) -> str:
    """`Retry-After` in whole seconds, rounded up, at least 1 (0 would invite a busy loop)."""
    return str(max(1, math.ceil(seconds)))


def rate_limit_headers(requests: WindowState | None, tokens: WindowState | None) -> dict[str, str]:
    """The `x-ratelimit-*` triple of each per-minute limit the client has."""
    headers: dict[str, str] = {}
    for kind, state in (("requests", requests), ("tokens", tokens)):
        if state is not None:
            headers[f"x-ratelimit-limit-{kind}"] = str(state.limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(max(0, state.remaining))
            headers[f"x-ratelimit-reset-{kind}"] = duration(state.reset_seconds)
    return headers
