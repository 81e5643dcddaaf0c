"""`GET /metrics`: Prometheus text format (public unless METRICS_REQUIRE_AUTH)."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from api.dependencies import Services

router = APIRouter()


@router.get("/metrics", summary="Prometheus metrics of this process")
async def metrics(services: Services) -> Response:
    return Response(services.metrics.render(), media_type=CONTENT_TYPE_LATEST)
