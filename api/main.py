"""The app factory: `create_app(settings)` builds everything; the lifespan starts and stops it.

Run with `uvicorn --factory api.main:create_app`. Nothing is constructed at import time.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from opentelemetry.sdk.trace.export import SpanExporter
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from api import __version__
from api.clients.headers import RATE_LIMIT_HEADERS
from api.config import Settings
from api.dependencies import ServiceContainer
from api.errors import GatewayError, StatusError
from api.lifecycle.signals import drain_on_exit_signals
from api.middleware.auth import AuthMiddleware
from api.middleware.chat_route import ChatRouteMiddleware
from api.middleware.client_limits import ClientLimitsMiddleware
from api.middleware.request_context import RequestContextMiddleware, error_answer
from api.observability.logging import configure_logging
from api.observability.server_span import ServerSpanMiddleware
from api.protocol import invalid_request_from
from api.routes import agents, audit, chat, health, metrics, models, routes_policy, tools, usage

PUBLIC_PATHS = ("/health", "/health/ready", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


def create_app(settings: Settings | None = None, span_exporter: SpanExporter | None = None) -> FastAPI:
    """Build the gateway from `settings` (read from the environment when not given).

    `span_exporter` turns tracing on with that exporter instead of OTLP (for tests).
    """
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_format)
    services = ServiceContainer(settings, span_exporter)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        # Everything built so far lives as long as the app: move it out of the collector's
        # sight, so full collections stop walking it on every request's time (they were
        # the gateway's 100+ ms p99 pauses).
        gc.freeze()
        try:
            # SIGTERM drains first (readiness 503, requests finish or are cut), then uvicorn
            # closes its connections and this block ends: the audit queue and spans follow.
            with drain_on_exit_signals(services.drain.run):
                yield
        finally:
            await services.close()

    app = FastAPI(
        title="Reasoning Agent API",
        version=__version__,
        summary="OpenAI-compatible gateway: passthrough, a reasoning agent with MCP tools, orchestration.",
        lifespan=lifespan,
    )
    app.state.services = services
    routers = [module.router for module in (chat, models, tools, agents, routes_policy, audit, usage, health, metrics)]
    for router in routers:
        app.include_router(router)
    _install_error_handlers(app)

    # Added innermost first: the request context wraps everything, the server span wraps
    # auth (a 401 is traced too), CORS answers preflights before auth, auth guards every
    # route but the public ones; the chat route is answered innermost, past the router.
    app.add_middleware(ChatRouteMiddleware, services=services)
    app.add_middleware(ClientLimitsMiddleware, limits=services.limits)
    public_paths = PUBLIC_PATHS if settings.metrics_require_auth else (*PUBLIC_PATHS, "/metrics")
    app.add_middleware(
        AuthMiddleware, registry=services.clients, required=settings.require_auth, public_paths=public_paths
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=[
                "X-Request-Id",
                "X-Routing-Path",
                "X-Routing-Reason",
                "X-Routing-Model",
                "X-Routing-Policy",
                "X-Trace-Id",
                *RATE_LIMIT_HEADERS,
            ],
        )
    if services.tracing.configured:
        known_paths = [path for router in routers for route in router.routes if "{" not in (path := route.path)]
        app.add_middleware(ServerSpanMiddleware, tracing=services.tracing, known_paths=known_paths)
    app.add_middleware(RequestContextMiddleware, observers=services.observers, drain=services.drain)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every error leaves in the OpenAI shape, and marks the request's record as failed."""

    def respond(request: Request, error: GatewayError) -> Response:
        return error_answer(request.scope, error)

    @app.exception_handler(GatewayError)
    async def gateway_error(request: Request, exc: GatewayError) -> Response:
        return respond(request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return respond(request, invalid_request_from(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        # The framework's own headers stay (a 405's `Allow` names the methods the path takes).
        error = StatusError(
            exc.status_code, "invalid_request_error", str(exc.detail), code=code, headers=dict(exc.headers or {})
        )
        return respond(request, error)
