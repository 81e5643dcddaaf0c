"""`GET /v1/routes`: the effective routing policy, built from the router's own settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.clients.scopes import AUDIT_ALL
from api.dependencies import CurrentClient, Services
from api.policy.config import policy_view
from api.routing.policy import routing_policy_view

router = APIRouter()


@router.get("/v1/routes", summary="The effective routing policy (tiers, default, auto routing, model rules, paths)")
async def routing_policy(services: Services, client: CurrentClient) -> dict[str, Any]:
    # The sensitive terms are themselves sensitive: only operators read them.
    rules = policy_view(services.policy.policy, reveal_terms=client.has(AUDIT_ALL))
    view = routing_policy_view(services.settings)
    if "orchestration" in view:  # the agents a plan may use now: the built-in one and the remote ones up
        view["orchestration"] = {**view["orchestration"], "agents": list(services.agents.available())}
    return {**view, "model_policy": rules}
