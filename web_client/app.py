"""The web client's app factory: `create_app(settings)`; the lifespan owns the one gateway client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from web_client import access
from web_client.chat import ChatRelay
from web_client.config import WebClientSettings
from web_client.gateway import build_gateway_client
from web_client.routes import STATIC_DIR, PageHeaders, health, index, list_models, list_paths, page_config


def create_app(settings: WebClientSettings | None = None) -> Starlette:
    """Build the web client from `settings` (read from the environment when not given)."""
    settings = settings or WebClientSettings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        # Lifespan state: every request sees it as `request.state.gateway` / `.settings`.
        gateway = build_gateway_client(settings)
        try:
            yield {
                "gateway": gateway,
                "settings": settings,
                "login_throttle": access.LoginThrottle(settings.login_attempts_per_minute),
            }
        finally:
            await gateway.close()

    routes = [
        Route("/", index),
        Route("/health", health),
        Route("/api/session", access.session_state),
        Route("/api/login", access.login, methods=["POST"]),
        Route("/api/logout", access.logout, methods=["POST"]),
        Route("/api/config", page_config),
        Route("/api/models", list_models),
        Route("/api/paths", list_paths),
        Route("/api/chat", ChatRelay(), methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    # PageHeaders outermost, so even the Host check's refusal and the 401s carry them.
    stack = [Middleware(PageHeaders), *access.middleware(settings)]
    return Starlette(routes=routes, middleware=stack, lifespan=lifespan)
