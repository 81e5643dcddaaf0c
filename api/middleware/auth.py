"""Bearer-token authentication for every route except a named allow-list (pure ASGI)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

from api.auth import bearer_token, client_id_for, token_accepted
from api.errors import AuthenticationError, error_response
from api.middleware.request_context import record_of


def authorization_header(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """401 `invalid_api_key` unless the path is public or the bearer token is accepted.

    With `required=False` every request passes, but a presented token still gives the
    request its `client_id`, so audit rows tell clients apart in development too.
    """

    def __init__(self, app: ASGIApp, *, tokens: Sequence[str], required: bool, public_paths: Iterable[str]) -> None:
        self.app = app
        self.tokens = [t.encode() for t in tokens]
        self.required = required
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        token = bearer_token(authorization_header(scope))
        if self.required and not token_accepted(token, self.tokens):
            reason = "Missing bearer token" if token is None else "Invalid bearer token"
            error = AuthenticationError(f"{reason}: send 'Authorization: Bearer <token>' with a token from API_TOKENS.")
            record = record_of(scope)
            if record is not None:
                record.fail(error)
            await error_response(error)(scope, receive, send)
            return
        record = record_of(scope)
        if record is not None and token is not None:
            record.client_id = client_id_for(token)
        await self.app(scope, receive, send)
