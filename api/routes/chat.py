"""`POST /v1/chat/completions`: validate, decide, run the chosen path, answer.

Requests reach the handler through `api/middleware/chat_route.py`, past the router; the
route is declared here all the same, for the OpenAPI document and every other case.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.clients.control_fields import upstream_body
from api.dependencies import CurrentClient, Record, Services
from api.openapi import chat_openapi_extra, chat_responses
from api.paths.base import ChatCall, JsonResult
from api.protocol import parse_json_object, validate_chat_request
from api.request_body import read_body
from api.streaming import EventStreamResponse

router = APIRouter()
CHAT_PATH = "/v1/chat/completions"


@router.post(
    CHAT_PATH,
    summary="OpenAI Chat Completions (streaming and not)",
    openapi_extra=chat_openapi_extra(),
    responses=chat_responses(),
)
async def chat_completions(request: Request, services: Services, record: Record, client: CurrentClient) -> Response:
    body = parse_json_object(await read_body(request, services.settings.max_request_bytes))
    chat = validate_chat_request(body)
    record.note_prompt(chat.model, bool(chat.stream), body["messages"], services.prompt_hash_key)
    await services.gate.admit(client, chat.model, record)
    body = services.policy.apply(upstream_body(body, client), client, record)
    decision = await services.router.route(body, request.headers.get("x-routing-mode"), record)
    record.route_path, record.route_reason = decision.path.value, decision.reason
    record.model = decision.upstream_model
    if decision.upstream_model != chat.model:
        body = {**body, "model": decision.upstream_model}
    result = await services.paths[decision.path].run(ChatCall(body, chat, decision, record))
    if isinstance(result, JsonResult):
        return Response(result.body, media_type="application/json")
    return EventStreamResponse(result.events, record, services.settings.sse_heartbeat_seconds)
