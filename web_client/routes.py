"""The page and the small JSON endpoints it reads: health, its configuration, the model list, the paths."""

from __future__ import annotations

from pathlib import Path

import openai
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web_client.gateway import error_response

STATIC_DIR = Path(__file__).parent / "static"
# The model's answer is rendered as HTML (sanitized Markdown); this policy is the second
# wall behind the sanitizer: no inline script, no script or image from elsewhere (an
# injected <img> cannot carry the conversation to another host), no framing.
PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


async def index(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html")


class PageHeaders:
    """`PAGE_HEADERS` on every HTML answer, whichever route served it (`/`, `/static/index.html`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.update(PAGE_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def health(request: Request) -> Response:
    """Liveness for compose: no I/O, the gateway may be down."""
    return JSONResponse({"status": "ok"})


async def page_config(request: Request) -> Response:
    """What the page needs to know about its settings; never the token."""
    settings = request.state.settings
    return JSONResponse({"gateway_url": settings.gateway_url, "phoenix_url": settings.phoenix_url})


async def list_models(request: Request) -> Response:
    """The gateway's `/v1/models` ids, for the model selector."""
    gateway: openai.AsyncOpenAI = request.state.gateway
    try:
        page = await gateway.models.list()
    except (openai.APIStatusError, openai.APIConnectionError) as exc:
        return error_response(exc, request.state.settings.gateway_url)
    return JSONResponse({"data": [model.id for model in page.data]})


async def list_paths(request: Request) -> Response:
    """Each path's state from the gateway's `/v1/routes` (`enabled`, `not_implemented`), for the mode picker."""
    gateway: openai.AsyncOpenAI = request.state.gateway
    try:
        policy = await gateway.get("/routes", cast_to=object)
    except (openai.APIStatusError, openai.APIConnectionError) as exc:
        return error_response(exc, request.state.settings.gateway_url)
    paths = policy.get("paths") if isinstance(policy, dict) else None
    return JSONResponse({"paths": paths if isinstance(paths, dict) else {}})
