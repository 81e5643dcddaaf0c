"""Settles a limited client's admission (api/clients/admission.py) around the response (pure ASGI).

Before the last body bytes go out it frees the concurrency slot and settles tokens and
cost, so a client that sends its next request as soon as it holds the answer finds its
slot free (its `x-ratelimit-*` headers go out with the record's other response headers,
api/middleware/request_context.py). A request that ends
without those bytes (error, client gone mid-stream, drain cut) settles in a `finally`,
shielded from the cancellation that ended it.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.clients.admission import ClientLimits
from api.middleware.request_context import record_of
from api.shielded import close_shielded


class ClientLimitsMiddleware:
    def __init__(self, app: ASGIApp, limits: ClientLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        record = record_of(scope)
        if scope["type"] != "http" or record is None:
            await self.app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            admission = record.admission
            last_body = message["type"] == "http.response.body" and not message.get("more_body", False)
            if admission is not None and last_body:
                await close_shielded(lambda: self.limits.finish(admission, record))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            admission = record.admission
            if admission is not None and not admission.finished:
                await close_shielded(lambda: self.limits.finish(admission, record))
