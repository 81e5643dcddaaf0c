"""`POST /v1/chat/completions` straight to its handler, past FastAPI's router (pure ASGI).

The chat route is the gateway's hot path, and its handler needs nothing FastAPI resolves:
its three dependencies only read the app state and the scope, and it reads and validates
the body itself. Matching it here, innermost of the middlewares, skips the router's
matching, the exception and exit-stack layers and `solve_dependencies` on every call (about
a twentieth of a passthrough request's CPU in the profile, docs/benchmarks.md). The FastAPI
route stays declared: the OpenAPI document, a `root_path` deployment and every other
method on the path (405 with `Allow`) still go through it. A `GatewayError` is answered as
the app's exception handler answers it; anything else propagates as it did before.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.dependencies import ServiceContainer
from api.errors import GatewayError
from api.middleware.auth import client_of
from api.middleware.request_context import error_answer, record_of
from api.routes.chat import CHAT_PATH, chat_completions


class ChatRouteMiddleware:
    def __init__(self, app: ASGIApp, services: ServiceContainer) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        chat = (
            scope["type"] == "http"
            and scope["path"] == CHAT_PATH
            and scope["method"] == "POST"
            and not scope.get("root_path")
        )
        record, client = (record_of(scope), client_of(scope)) if chat else (None, None)
        if record is None or client is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await chat_completions(request, self.services, record, client)
        except GatewayError as error:
            response = error_answer(scope, error)
        await response(scope, receive, send)
