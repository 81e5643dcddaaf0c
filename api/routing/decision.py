"""The three routing tiers as a pure function: body + header + policy → decision.

Tier 1 (what the body needs) beats tier 2 (what the caller asked for: the
`X-Routing-Mode` header, else a `reasoning/`, `orchestrate/` or `auto/` model prefix), which beats
tier 3 (the configured default). `auto` does not decide here: it yields `NeedsClassifier`
and the router asks the classifier. No I/O, no FastAPI: tested as plain values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from api.errors import InvalidRequestError


class RoutePath(StrEnum):
    PASSTHROUGH = "passthrough"
    REASONING = "reasoning"
    ORCHESTRATION = "orchestration"


ROUTING_MODES = ("passthrough", "reasoning", "orchestration", "auto")


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """Where a request goes and why; `reason` is a contract code (X-Routing-Reason)."""

    path: RoutePath
    reason: str
    upstream_model: str


@dataclass(frozen=True, slots=True)
class NeedsClassifier:
    """Auto routing was asked for; the classifier picks the path for this model."""

    upstream_model: str


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """The settings the pure decision reads (also shown by `GET /v1/routes`)."""

    default_mode: str = "passthrough"
    reasoning_prefix: str = "reasoning/"
    auto_prefix: str = "auto/"
    # None while orchestration is off: `orchestrate/x` is then a plain model name, as before.
    orchestrate_prefix: str | None = None

    def prefixes(self) -> tuple[tuple[str, str], ...]:
        """(mode, prefix) of each model prefix that picks a path."""
        chosen = [("reasoning", self.reasoning_prefix), ("auto", self.auto_prefix)]
        if self.orchestrate_prefix is not None:
            chosen.append(("orchestration", self.orchestrate_prefix))
        return tuple(chosen)


def parse_routing_header(value: str | None) -> str | None:
    """Normalise `X-Routing-Mode` (case-insensitive, trimmed); unknown values are a 400."""
    if value is None:
        return None
    mode = value.strip().lower()
    if mode not in ROUTING_MODES:
        allowed = ", ".join(ROUTING_MODES)
        raise InvalidRequestError(
            f"Invalid X-Routing-Mode header {value!r}: allowed values are {allowed}.",
            code="invalid_routing_mode",
            param="X-Routing-Mode",
        )
    return mode


def split_virtual_model(model: str, policy: RoutingPolicy) -> tuple[str | None, str]:
    """`reasoning/gpt-4o` → ("reasoning", "gpt-4o"); a plain model → (None, model).

    A bare prefix (`reasoning/`) names a path but no model for it: a 400 naming `model`,
    rather than an upstream asked for a model called "reasoning/".
    """
    for mode, prefix in policy.prefixes():
        if model == prefix:
            raise InvalidRequestError(
                f"Invalid value for 'model': {model!r} names the {mode} path but no model; "
                f"use {prefix}<model>, e.g. {prefix}gpt-4o.",
                code="invalid_value",
                param="model",
            )
        if model.startswith(prefix):
            return mode, model[len(prefix) :]
    return None, model


def decide(body: dict[str, Any], header: str | None, policy: RoutingPolicy) -> RoutingDecision | NeedsClassifier:
    """Apply the three tiers; `header` is the raw `X-Routing-Mode` value (validated here)."""
    header_mode = parse_routing_header(header)
    prefix_mode, upstream_model = split_virtual_model(str(body.get("model", "")), policy)

    # Tier 1: only passthrough can honour tools and structured output.
    if body.get("tools") or body.get("functions"):
        return RoutingDecision(RoutePath.PASSTHROUGH, "tools_present", upstream_model)
    if body.get("response_format") is not None:
        return RoutingDecision(RoutePath.PASSTHROUGH, "response_format_present", upstream_model)

    # Tier 2: the caller's explicit choice; the header wins over the model prefix.
    if header_mode == "auto":
        return NeedsClassifier(upstream_model)
    if header_mode is not None:
        return RoutingDecision(RoutePath(header_mode), f"header_{header_mode}", upstream_model)
    if prefix_mode == "auto":
        return NeedsClassifier(upstream_model)
    if prefix_mode == "reasoning":
        return RoutingDecision(RoutePath.REASONING, "model_reasoning", upstream_model)
    if prefix_mode == "orchestration":
        return RoutingDecision(RoutePath.ORCHESTRATION, "model_orchestration", upstream_model)

    # Tier 3: the configured default.
    if policy.default_mode == "auto":
        return NeedsClassifier(upstream_model)
    return RoutingDecision(RoutePath(policy.default_mode), "default", upstream_model)
