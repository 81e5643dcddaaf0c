"""Who may use the web client: the login, the session cookie, and the guards in front of `/api/*`.

The web client's server calls the gateway with its own token, so anyone who reaches it uses
the gateway as that client. Hence: one password (`WEB_CLIENT_PASSWORD`) exchanged at
`POST /api/login` for a signed session cookie (HttpOnly, SameSite=Strict, Secure when
`WEB_CLIENT_COOKIE_SECURE`); every other `/api/*` call without it is a 401. `WEB_CLIENT_OPEN`
drops the login, and the settings allow it only on loopback. Cross-site requests are
refused before they reach a route (CSRF), and the Host header is checked (DNS rebinding).
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from urllib.parse import urlsplit

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from web_client.config import WebClientSettings
from web_client.gateway import error_body

SESSION_COOKIE = "web_client_session"
# Reachable without a session: the login itself, and the question the page asks first.
PUBLIC_API = {"/api/login", "/api/session"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# What a browser says of a request made by this page itself (or typed in the address bar).
SAME_SITE_FETCHES = {"same-origin", "none"}


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(max_length=1024)


def middleware(settings: WebClientSettings) -> list[Middleware]:
    """The guards, outermost first: Host check, cross-site refusal, the session, the login."""
    secret = settings.session_secret.get_secret_value() or secrets.token_urlsafe(32)
    return [
        Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts),
        Middleware(SameOriginOnly),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie=SESSION_COOKIE,
            max_age=settings.session_max_age,
            same_site="strict",
            https_only=settings.cookie_secure,
        ),
        Middleware(LoginRequired, open_access=settings.open),
    ]


def is_cross_site(method: str, headers: Headers) -> str | None:
    """Why a state-changing request must be refused as cross-site, or None when it may pass.

    Browsers send `Sec-Fetch-Site` and/or `Origin` on such requests; a request with neither
    comes from a program, not from a page another site made the browser send.
    """
    if method in SAFE_METHODS:
        return None
    fetch_site = headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in SAME_SITE_FETCHES:
        return f"Sec-Fetch-Site is {fetch_site!r}"
    origin = headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != headers.get("host", ""):
        return f"Origin {origin!r} is not this site"
    return None


def is_json(headers: Headers) -> bool:
    return headers.get("content-type", "").split(";")[0].strip().lower() == "application/json"


class SameOriginOnly:
    """403 for a cross-site POST; 415 for a POST that is not JSON (a plain form cannot send JSON)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            headers = Headers(scope=scope)
            reason = is_cross_site(scope["method"], headers)
            if reason is not None:
                body = error_body(f"Cross-site request refused: {reason}.", "permission_error", "cross_site_request")
                await JSONResponse(body, 403)(scope, receive, send)
                return
            if not is_json(headers):
                body = error_body("Send JSON (Content-Type: application/json).", "invalid_request_error", "not_json")
                await JSONResponse(body, 415)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class LoginRequired:
    """401 for an `/api/*` call without a logged-in session (unless the web client runs open)."""

    def __init__(self, app: ASGIApp, open_access: bool) -> None:
        self.app = app
        self.open_access = open_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and not self.open_access
            and path.startswith("/api/")
            and path not in PUBLIC_API
            and not scope["session"].get("login")
        ):
            body = error_body("Log in first: POST /api/login.", "authentication_error", "login_required")
            await JSONResponse(body, 401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class LoginThrottle:
    """Failed logins per client address in a moving minute (one process: the web client is one).

    Over the limit, every attempt from that address is refused, the right password too, so
    guessing goes no faster than `per_minute` tries a minute.
    """

    def __init__(self, per_minute: int) -> None:
        self.item = RateLimitItemPerMinute(per_minute)
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def blocked_for(self, address: str) -> float | None:
        """Seconds until `address` may try again, or None when it may now."""
        if self.limiter.test(self.item, address):
            return None
        reset = self.limiter.get_window_stats(self.item, address).reset_time
        return max(1.0, reset - time.time())

    def failed(self, address: str) -> None:
        self.limiter.hit(self.item, address)


async def login(request: Request) -> Response:
    settings: WebClientSettings = request.state.settings
    if settings.open:
        return JSONResponse({"authenticated": True, "open": True})
    throttle: LoginThrottle = request.state.login_throttle
    address = request.client.host if request.client else "unknown"
    if (wait := throttle.blocked_for(address)) is not None:
        body = error_body("Too many failed logins; try again later.", "rate_limit_error", "too_many_logins")
        return JSONResponse(body, 429, headers={"Retry-After": str(math.ceil(wait))})
    try:
        form = LoginForm.model_validate_json(await request.body())
    except ValidationError:
        return JSONResponse(error_body('Send {"password": ...}.', "invalid_request_error", "invalid_form"), 400)
    expected = settings.password.get_secret_value().encode()
    if not hmac.compare_digest(form.password.encode(), expected):
        throttle.failed(address)
        return JSONResponse(error_body("Wrong password.", "authentication_error", "invalid_password"), 401)
    request.session.clear()
    request.session["login"] = True
    return JSONResponse({"authenticated": True, "open": False})


async def logout(request: Request) -> Response:
    request.session.clear()
    return JSONResponse({"authenticated": False, "open": request.state.settings.open})


async def session_state(request: Request) -> Response:
    """What the page asks first: show the login, or the chat."""
    open_access = request.state.settings.open
    return JSONResponse({"authenticated": open_access or bool(request.session.get("login")), "open": open_access})
