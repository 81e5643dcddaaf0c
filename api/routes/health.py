"""Liveness (`/health`, no I/O) and readiness (`/health/ready`, checks dependencies; 503 `draining` at shutdown)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api import __version__
from api.clients.scopes import AUDIT_ALL
from api.dependencies import Services
from api.middleware.auth import client_of
from api.readiness import ComponentHealth, run_checks

router = APIRouter()


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/health/ready", summary="Readiness of the gateway and each dependency")
async def ready(request: Request, services: Services) -> JSONResponse:
    if services.drain.draining:  # at once, no checks: the instance is leaving, whatever its dependencies say
        return JSONResponse({"status": "draining", "in_flight": services.drain.in_flight}, status_code=503)
    is_ready, report = await run_checks(services.readiness_checks)
    client = client_of(request.scope)
    # The details name hosts, database users and raw errors: only for an operator's token.
    detailed = client is not None and client.has(AUDIT_ALL)
    components = {name: component_view(health, detailed) for name, health in report.items()}
    body = {"status": "ready" if is_ready else "not_ready", "components": components}
    return JSONResponse(body, status_code=200 if is_ready else 503)


def component_view(health: ComponentHealth, detailed: bool) -> dict[str, str]:
    """A component's state, with its detail only for a client that may see internals."""
    view = {key: value for key, value in asdict(health).items() if value is not None}
    return view if detailed else {"status": view["status"]}
