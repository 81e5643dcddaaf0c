"""`GET /v1/models`: the upstream's list plus the virtual routing models."""

from __future__ import annotations

import httpx2
import openai
import orjson
from fastapi import APIRouter
from starlette.responses import Response

from api.dependencies import Services
from api.routing.virtual_models import with_virtual_models
from api.upstream.errors import translate_exception

router = APIRouter()


@router.get("/v1/models", summary="List models (upstream models and their reasoning/ and auto/ twins)")
async def list_models(services: Services) -> Response:
    try:
        upstream = await services.llm.get("/models", cast_to=httpx2.Response)
    except (openai.APIError, httpx2.HTTPError) as exc:
        raise translate_exception(exc, str(services.llm.base_url)) from exc
    settings = services.settings
    listing = with_virtual_models(
        orjson.loads(upstream.content),
        prefixes=(settings.reasoning_model_prefix, settings.auto_model_prefix),
        bases=settings.virtual_model_bases,
    )
    return Response(orjson.dumps(listing), media_type="application/json")
