"""Which answers LiteLLM's response cache may serve (contract section 11): pure.

LiteLLM's cache runs in `default_off` mode (config/litellm_config.yaml): it answers from
the cache only a call that opts in with `cache: {"use-cache": true}`. Clients cannot opt in
themselves (`cache` is one of LiteLLM's control fields, api/clients/control_fields.py): the
gateway does, for the answers that are the same every time, so a cached answer is never
one a client would not have got anyway. Deterministic means `temperature: 0` asked for
explicitly, one choice, and no tools (a tool call's result is the client's state, not
part of the prompt the cache keys on).
"""

from __future__ import annotations

from typing import Any

OPT_IN = {"use-cache": True}


def is_deterministic(body: dict[str, Any]) -> bool:
    return body.get("temperature") == 0 and body.get("n") in (None, 1) and not body.get("tools")


def with_cache_opt_in(body: dict[str, Any]) -> dict[str, Any]:
    """`body` asking LiteLLM for its cache when its answer is deterministic, else unchanged."""
    if "cache" in body or not is_deterministic(body):
        return body
    return {**body, "cache": OPT_IN}
