"""What happened to one request: a plain value filled in as the request goes down the page.

The request-context middleware creates a `RequestRecord` for every HTTP request and
finishes it exactly once, whatever the outcome; the chat handler and the paths add what
only they know (routing decision, tokens, upstream time). Observers (access log,
metrics, audit) read the finished record; none of them is called from inside a path.
No raw prompt text is ever stored here: only its hash and size.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from api.errors import GatewayError
from api.hashing import canonical_sha256

if TYPE_CHECKING:
    from api.clients.admission import Admission
    from api.upstream.litellm_headers import UpstreamOutcome

Outcome = Literal["ok", "error", "cancelled"]


@dataclass(slots=True)
class RequestRecord:
    """The facts of one request (the audit row of contract section 7 is built from these)."""

    request_id: str
    method: str
    path: str
    started: float = field(default_factory=time.perf_counter)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    route_path: str | None = None
    route_reason: str | None = None
    model: str | None = None
    stream: bool | None = None
    status: Outcome = "ok"
    http_status: int | None = None
    error_type: str | None = None
    error_code: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    upstream_ms: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_steps: int | None = None
    tool_calls: int | None = None
    prompt_sha256: str | None = None
    prompt_chars: int | None = None
    message_count: int | None = None
    client_id: str | None = None
    session_id: str | None = None
    trace_id: str | None = None
    requested_model: str | None = None  # as the client named it; `model` is what the upstream saw
    client_request_id: str | None = None  # the caller's own id for the request; `request_id` is ours
    client: str | None = None  # the resolved client's name (api/clients); `client_id` is the token hash
    cost_usd: float | None = 0.0  # summed over the request's upstream calls; None once any is unpriced
    upstream_model: str | None = None  # the model (LiteLLM model group) that answered the last call
    attempted_retries: int | None = None  # LiteLLM's retries, summed over the request's calls
    attempted_fallbacks: int | None = None  # LiteLLM's fallbacks, summed over the request's calls
    cache_hit: bool | None = None  # every call was answered from LiteLLM's cache; None: not known
    route_policy: str | None = None  # the routing policy rule that decided (api/policy), if any
    policy_model: str | None = None  # that rule's model: every LLM call of the request uses it
    orchestration_tasks: int | None = None  # tasks of the orchestration's plan (0: no valid plan)
    upstream_headers: list[tuple[bytes, bytes]] = field(default_factory=list)  # forwarded to the client
    admission: Admission | None = None  # a limited client's slot and window figures, settled when the request ends

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def note_prompt(self, model: str, stream: bool, messages: list[Any], hash_key: bytes | None = None) -> None:
        self.model = self.requested_model = model
        self.stream = stream
        self.prompt_sha256, self.prompt_chars, self.message_count = prompt_fingerprint(messages, hash_key)

    def fail(self, error: GatewayError) -> None:
        """Mark the request failed (the first failure wins; a cancel is not overwritten)."""
        if self.status == "ok":
            self.status = "error"
            self.error_type = error.error_type
            self.error_code = error.code

    def add_usage(self, usage: dict[str, Any] | None) -> None:
        """Add one LLM call's usage (paths with several calls add each one)."""
        if not usage:
            return
        self.prompt_tokens = (self.prompt_tokens or 0) + int(usage.get("prompt_tokens") or 0)
        self.completion_tokens = (self.completion_tokens or 0) + int(usage.get("completion_tokens") or 0)

    def add_cost(self, cost: float | None) -> None:
        """Add one upstream call's cost (api/upstream/cost.py). One unpriced call makes the
        request's cost unknown (None): a partial sum would understate it, and a budget would
        trust it. A request that made no upstream call costs 0."""
        if cost is None or self.cost_usd is None:  # None stays None whatever follows
            self.cost_usd = None
            return
        self.cost_usd += cost

    def note_upstream(self, outcome: UpstreamOutcome | None) -> None:
        """Add what LiteLLM did for one call (None: the upstream said nothing)."""
        if outcome is None:
            return
        self.upstream_model = outcome.model
        self.attempted_retries = (self.attempted_retries or 0) + outcome.retries
        self.attempted_fallbacks = (self.attempted_fallbacks or 0) + outcome.fallbacks
        self.cache_hit = outcome.cache_hit if self.cache_hit is None else self.cache_hit and outcome.cache_hit

    def add_upstream_time(self, started: float) -> None:
        """Add the time since `started` (a perf_counter value) to the upstream total."""
        self.upstream_ms = (self.upstream_ms or 0.0) + (time.perf_counter() - started) * 1000


class RequestObserver(Protocol):
    """Something that reacts to finished requests (access log, metrics, audit)."""

    def request_finished(self, record: RequestRecord) -> None: ...


def prompt_fingerprint(messages: list[Any], hash_key: bytes | None = None) -> tuple[str, int, int]:
    """(sha256 of the canonical JSON of the messages, keyed with `hash_key`; text characters; count)."""
    return canonical_sha256(messages, hash_key), sum(_text_chars(m) for m in messages), len(messages)


def _text_chars(message: Any) -> int:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(part.get("text") or "") for part in content if isinstance(part, dict))
    return 0
