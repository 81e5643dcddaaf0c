"""`GET /v1/routes`: the effective routing policy, built from the router's own settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.dependencies import Services
from api.routing.policy import routing_policy_view

router = APIRouter()


@router.get("/v1/routes", summary="The effective routing policy (tiers, default, auto routing, paths)")
async def routing_policy(services: Services) -> dict[str, Any]:
    return routing_policy_view(services.settings)
