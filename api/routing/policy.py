"""The effective routing policy as `GET /v1/routes` shows it (pure; no secrets)."""

from __future__ import annotations

from typing import Any

from api.config import Settings
from api.routing.virtual_models import virtual_prefixes

PATH_STATUS = {"passthrough": "enabled", "reasoning": "enabled", "orchestration": "not_implemented"}


def path_status(settings: Settings) -> dict[str, str]:
    """Each path's state: orchestration is `enabled` only with ORCHESTRATION_ENABLED=true."""
    return {**PATH_STATUS, "orchestration": "enabled" if settings.orchestration_enabled else "not_implemented"}


def routing_policy_view(settings: Settings) -> dict[str, Any]:
    return {
        "tiers": [
            {
                "tier": 1,
                "rule": "non-empty tools/functions → passthrough (tools_present); "
                "response_format → passthrough (response_format_present)",
            },
            {
                "tier": 2,
                "rule": "X-Routing-Mode header (passthrough | reasoning | orchestration | auto), "
                f"else model prefix {' or '.join(f'{prefix}<model>' for prefix in virtual_prefixes(settings))}",
            },
            {"tier": 3, "rule": f"DEFAULT_ROUTING_MODE ({settings.default_routing_mode}), reason 'default'"},
        ],
        "default_path": settings.default_routing_mode,
        "header": "X-Routing-Mode",
        "model_prefixes": {
            "reasoning": settings.reasoning_model_prefix,
            "auto": settings.auto_model_prefix,
            **({"orchestration": settings.orchestrate_model_prefix} if settings.orchestration_enabled else {}),
        },
        # Which upstream models get the prefixed twins in /v1/models; empty: every one.
        "virtual_model_bases": settings.virtual_model_bases,
        "auto_routing": {
            "targets": settings.auto_routing_targets,
            "classifier_model": settings.routing_classifier_model,
            "timeout_seconds": settings.routing_classifier_timeout,
            "fallback": {"path": "passthrough", "reason": "auto_fallback"},
            "cache": {"ttl_seconds": settings.routing_cache_ttl_seconds, "max_entries": settings.routing_cache_size},
        },
        "paths": path_status(settings),
        "reasoning": {
            "max_iterations": settings.max_reasoning_iterations,
            "tool_timeout_seconds": settings.tool_timeout_seconds,
            "step_format": settings.reasoning_step_format,
        },
        **({"orchestration": _orchestration(settings)} if settings.orchestration_enabled else {}),
    }


def _orchestration(settings: Settings) -> dict[str, Any]:
    return {
        "agents": ["reasoning"],  # the built-in agent; GET /v1/routes adds the remote A2A agents up
        "max_tasks": settings.orchestration_max_tasks,
        "max_parallel": settings.orchestration_max_parallel,
        "task_timeout_seconds": settings.orchestration_task_timeout_seconds,
    }
