"""Settles a limited client's admission (api/clients/admission.py) around the response (pure ASGI).

At the response start it adds the `x-ratelimit-*` headers; before the last body bytes go
out it frees the concurrency slot and settles tokens and cost, so a client that sends its
next request as soon as it holds the answer finds its slot free. A request that ends
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
            if admission is not None:
                if message["type"] == "http.response.start":
                    extra = [(k.encode(), v.encode()) for k, v in admission.headers.items()]
                    message["headers"] = [*message.get("headers", ()), *extra]
                elif message["type"] == "http.response.body" and not message.get("more_body", False):
                    await close_shielded(lambda: self.limits.finish(admission, record))
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            admission = record.admission
            if admission is not None and not admission.finished:
                await close_shielded(lambda: self.limits.finish(admission, record))
