"""Authentication and authorisation for every route (pure ASGI): who is calling, and may they.

The client is resolved once here and put on the request (`client_of(scope)`); everything
after reads that value. A route outside the client's scopes or paths is a 403 before the
app runs. Public paths pass without a token, but a token sent to them still resolves
(`/health/ready` shows details only to a client with `audit:all`).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import bearer_token
from api.clients.model import Client, client_id_for
from api.clients.registry import ClientRegistry
from api.clients.scopes import scopes_for_path
from api.errors import AuthenticationError, GatewayError, PermissionDeniedError, error_response
from api.middleware.request_context import record_of


def authorization_header(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value.decode("latin-1")
    return None


def client_of(scope: Scope) -> Client | None:
    """The client the auth middleware resolved for this request (None on a public path without a token)."""
    return scope.get("state", {}).get("client")


def route_refusal(client: Client, path: str) -> PermissionDeniedError | None:
    """Why `client` may not call `path` (a missing scope, a path outside its list), or None."""
    needed = scopes_for_path(path)
    if needed is not None and not client.has_any(needed):
        return PermissionDeniedError(
            f"Client {client.name!r} lacks the scope for {path}: it needs one of {', '.join(sorted(needed))}.",
            code="scope_missing",
        )
    if not client.allows_path(path):
        return PermissionDeniedError(f"Client {client.name!r} may not call {path}.", code="path_not_allowed")
    return None


class AuthMiddleware:
    """401 `invalid_api_key` unless the path is public or the token names a client; 403 outside its scopes.

    With `required=False` every request passes as the client its token names, or else as
    `anonymous` (the local developer: every scope but `upstream:control`); a presented token
    still gives the request its `client_id`, so audit rows tell callers apart in development.
    """

    def __init__(self, app: ASGIApp, *, registry: ClientRegistry, required: bool, public_paths: Iterable[str]) -> None:
        self.app = app
        self.registry = registry
        self.required = required
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = bearer_token(authorization_header(scope))
        client = self.registry.by_token(token) if token is not None else None
        path = scope["path"]
        if path in self.public_paths:
            if client is None and not self.required:
                client = self.registry.anonymous
            if client is not None:
                scope.setdefault("state", {})["client"] = client
            await self.app(scope, receive, send)
            return
        if client is None:
            if self.required:
                reason = "Missing bearer token" if token is None else "Invalid bearer token"
                await self._refuse(
                    AuthenticationError(
                        f"{reason}: send 'Authorization: Bearer <token>' with the token of a configured client."
                    ),
                    scope,
                    receive,
                    send,
                )
                return
            client = self.registry.anonymous
        scope.setdefault("state", {})["client"] = client
        record = record_of(scope)
        if record is not None:
            record.client = client.name
            if token is not None:
                record.client_id = client_id_for(token)
        refusal = route_refusal(client, path)
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def _refuse(error: GatewayError, scope: Scope, receive: Receive, send: Send) -> None:
        record = record_of(scope)
        if record is not None:
            record.fail(error)
        await error_response(error)(scope, receive, send)
