"""The model list with the virtual `reasoning/<m>` and `auto/<m>` models beside each upstream one
(and `orchestrate/<m>` while orchestration is enabled).

Chat UIs that cannot set headers pick a path by picking a model; this is what lets them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from api.config import Settings

VIRTUAL_OWNER = "reasoning-agent-api"


def virtual_prefixes(settings: Settings) -> tuple[str, ...]:
    """The prefixes whose twins `/v1/models` lists: orchestrate/ only while orchestration runs."""
    prefixes = (settings.reasoning_model_prefix, settings.auto_model_prefix)
    if settings.orchestration_enabled:
        return (*prefixes, settings.orchestrate_model_prefix)
    return prefixes


def with_virtual_models(upstream: dict[str, Any], prefixes: Sequence[str], bases: Sequence[str]) -> dict[str, Any]:
    """Append `<prefix><id>` entries for each upstream model in `bases` (all when empty)."""
    models = [m for m in upstream.get("data") or [] if isinstance(m, dict) and m.get("id")]
    chosen = [m for m in models if not bases or m["id"] in bases]
    virtual = [
        {
            "id": f"{prefix}{m['id']}",
            "object": "model",
            "created": m.get("created", 0),
            "owned_by": VIRTUAL_OWNER,
        }
        for prefix in prefixes
        for m in chosen
    ]
    return {"object": "list", "data": [*models, *virtual]}
