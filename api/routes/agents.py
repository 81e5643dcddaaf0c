"""`GET /v1/agents`: the agents orchestration can plan with (built-in and remote A2A), each one's state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.dependencies import Services

router = APIRouter()


@router.get("/v1/agents", summary="Agents orchestration can hand tasks to (built-in and remote A2A), and their state")
async def list_agents(services: Services) -> dict[str, Any]:
    # With ORCHESTRATION_ENABLED=false the registry is empty: there is nothing to plan with.
    return {
        "object": "list",
        "orchestration_enabled": services.settings.orchestration_enabled,
        "data": [status.as_json() for status in services.agents.statuses()],
    }
