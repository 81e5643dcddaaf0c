"""What LiteLLM's `x-litellm-*` response headers say happened to a call (contract section 11): pure.

LiteLLM retries, falls back, balances and caches on the gateway's behalf; its answer's
headers are the only record of it. Passthrough forwards them to the client, except the
ones that show the gateway's internals (the deployment's address, the shared key's spend
and budget, LiteLLM's version), and every path notes the outcome on the request's record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from api.observability.tracing import LlmCall
    from api.request_record import RequestRecord

PREFIX = "x-litellm-"
# The deployment's URL, the one shared LiteLLM key's spend and limits, and the proxy's
# version: nothing a client needs, and each tells an attacker something.
_HIDDEN = ("x-litellm-model-api-base", "x-litellm-key-", "x-litellm-version")


@dataclass(frozen=True, slots=True)
class UpstreamOutcome:
    """One call's story: the model group that answered, retries, fallbacks, a cache hit."""

    model: str | None
    retries: int
    fallbacks: int
    cache_hit: bool


def forwarded_headers(headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
    """The `x-litellm-*` headers a client may see, as ASGI header pairs."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in headers.items()
        if name.lower().startswith(PREFIX) and not name.lower().startswith(_HIDDEN)
    ]


def outcome_of(headers: Mapping[str, str]) -> UpstreamOutcome | None:
    """The outcome LiteLLM reports, or None when the upstream is not LiteLLM (no model group)."""
    group = headers.get("x-litellm-model-group")
    if group is None:
        return None
    return UpstreamOutcome(
        model=group or None,
        retries=_count(headers.get("x-litellm-attempted-retries")),
        fallbacks=_count(headers.get("x-litellm-attempted-fallbacks")),
        # LiteLLM names the cache key only on an answer served from its cache.
        cache_hit=bool(headers.get("x-litellm-cache-key")),
    )


def _count(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def note_litellm(headers: Mapping[str, str], record: RequestRecord, llm_call: LlmCall, *, forward: bool) -> None:
    """One call's outcome on the request's record and the call's span; with `forward`, its
    headers go to the client too (passthrough: one call, one answer)."""
    outcome = outcome_of(headers)
    record.note_upstream(outcome)
    llm_call.set_upstream(outcome)
    if forward:
        record.upstream_headers = forwarded_headers(headers)
