"""Liveness (`/health`, no I/O) and readiness (`/health/ready`, checks dependencies; 503 `draining` at shutdown)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api import __version__
from api.dependencies import Services
from api.readiness import run_checks

router = APIRouter()


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get("/health/ready", summary="Readiness of the gateway and each dependency")
async def ready(services: Services) -> JSONResponse:
    if services.drain.draining:  # at once, no checks: the instance is leaving, whatever its dependencies say
        return JSONResponse({"status": "draining", "in_flight": services.drain.in_flight}, status_code=503)
    is_ready, report = await run_checks(services.readiness_checks)
    components = {name: {k: v for k, v in asdict(h).items() if v is not None} for name, h in report.items()}
    body = {"status": "ready" if is_ready else "not_ready", "components": components}
    return JSONResponse(body, status_code=200 if is_ready else 503)
