"""LiteLLM's control fields out of a client's body unless it may steer the upstream.

Every client shares the gateway's one LiteLLM key, so a body field LiteLLM reads as its own
(`api_base`, `mock_response`, `fallbacks`, `metadata`, ...) would let any client redirect,
fake, re-route or re-price calls made under that key. The list lives in
`litellm_control_fields.txt` beside this module; clients with `upstream:control` keep them.
The gateway adds its own `metadata.component` after this (api/observability/tracing.py).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from api.clients.model import Client
from api.clients.scopes import UPSTREAM_CONTROL

CONTROL_PREFIXES = ("litellm_", "_", "mock_")
# `metadata` is an OpenAI field and stays, but LiteLLM acts on some of its keys: tags route
# (tag filtering) and label spend, user_api_key* claim another key's identity in its logs.
METADATA_CONTROL_KEYS = frozenset({"tags", "spend_logs_metadata", "model_group", "deployment", "headers"})
METADATA_CONTROL_PREFIXES = (*CONTROL_PREFIXES, "user_api_key")


@cache
def control_fields() -> frozenset[str]:
    """The listed field names (comments and blank lines aside)."""
    text = files("api.clients").joinpath("litellm_control_fields.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def is_control_field(name: str) -> bool:
    return name in control_fields() or name.startswith(CONTROL_PREFIXES)


def is_metadata_control_key(name: str) -> bool:
    return name in METADATA_CONTROL_KEYS or is_control_field(name) or name.startswith(METADATA_CONTROL_PREFIXES)


def upstream_body(body: dict[str, Any], client: Client) -> dict[str, Any]:
    """`body` as it may go up for `client`: without control fields unless it has `upstream:control`."""
    if client.has(UPSTREAM_CONTROL):
        return body
    metadata = body.get("metadata")
    steers = isinstance(metadata, dict) and any(is_metadata_control_key(key) for key in metadata)
    if not steers and not any(is_control_field(name) for name in body):
        return body  # the common case: no copy
    kept = {name: value for name, value in body.items() if not is_control_field(name)}
    if steers:
        kept["metadata"] = {key: value for key, value in metadata.items() if not is_metadata_control_key(key)}
    return kept
