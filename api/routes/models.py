"""`GET /v1/models`: the upstream's list plus the virtual routing models."""

from __future__ import annotations

from typing import Any

import httpx2
import openai
import orjson
from fastapi import APIRouter
from starlette.responses import Response

from api.clients.model import Client
from api.dependencies import CurrentClient, Services
from api.routing.virtual_models import virtual_prefixes, with_virtual_models
from api.upstream.errors import translate_exception

router = APIRouter()


def only_allowed(listing: dict[str, Any], client: Client) -> dict[str, Any]:
    """The upstream's list without the models `client` may not use (their twins go with them)."""
    if not client.models:
        return listing
    models = [m for m in listing.get("data") or [] if isinstance(m, dict) and client.allows_model(str(m.get("id")))]
    return {**listing, "data": models}


@router.get("/v1/models", summary="List models (upstream models and their reasoning/, auto/ (and orchestrate/) twins)")
async def list_models(services: Services, client: CurrentClient) -> Response:
    try:
        upstream = await services.llm.get("/models", cast_to=httpx2.Response)
    except (openai.APIError, httpx2.HTTPError) as exc:
        raise translate_exception(exc) from exc
    settings = services.settings
    listing = with_virtual_models(
        only_allowed(orjson.loads(upstream.content), client),
        prefixes=virtual_prefixes(settings),
        bases=settings.virtual_model_bases,
    )
    return Response(orjson.dumps(listing), media_type="application/json")
