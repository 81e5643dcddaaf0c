"""The outermost gateway middleware: one `RequestRecord` per request, finished exactly once.

Pure ASGI (no `BaseHTTPMiddleware`: it costs per request and breaks streaming
cancellation). For each HTTP request it

- assigns the request id (always the gateway's own: no client can make two requests share
  one id, or one audit row), notes the caller's own id (a sane `X-Client-Request-Id`, or
  for compatibility `X-Request-Id`) and a sane `X-Session-ID`, and adds the
  `X-Request-Id` / `X-Routing-Path` / `X-Routing-Reason` response headers;
- watches for the client going away once the body has been read, and cancels the
  whole request (upstream call, stream, reasoning loop, tool calls) when it does;
- turns an exception nothing else handled into a logged OpenAI-shaped 500;
- while the shutdown drain runs, refuses new requests (503 `draining`), and lets the drain
  cut the ones still running at its deadline (api/lifecycle/drain.py);
- finishes the record exactly once and hands it to the observers: just before the last
  body bytes are sent (so the audit row is in the journal before the client can hold a
  complete answer, api/audit/journal.py), or in a `finally` when the request ends
  without them (failed, cancelled).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable, Sequence

import anyio
import structlog
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import GatewayError, error_response, internal_error
from api.lifecycle.drain import Drain, draining_error
from api.request_record import RequestObserver, RequestRecord

log = structlog.get_logger("api.request")

_SANE_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A model name the client chose goes back in a header only when it is visible ASCII: a control
# character in a header value makes the server drop the connection instead of answering.
_HEADER_SAFE = re.compile(r"^[\x21-\x7e]{1,256}$")
CLIENT_CLOSED_REQUEST = 499  # nginx's code for "the client went away before we answered"
WATCH_AFTER_SECONDS = 0.05


def sane_header(scope: Scope, name: bytes) -> str | None:
    """A header's value when it is a short token safe to log, store and echo; else None."""
    for key, value in scope.get("headers", ()):
        if key == name:
            candidate = value.decode("latin-1").strip()
            return candidate if _SANE_TOKEN.match(candidate) else None
    return None


def new_request_id() -> str:
    """The gateway's id of one request: random, so unique whatever the clients send."""
    return uuid.uuid4().hex


def client_request_id_from(scope: Scope) -> str | None:
    """The caller's own id: `X-Client-Request-Id`, else (older clients) `X-Request-Id`, when sane."""
    return sane_header(scope, b"x-client-request-id") or sane_header(scope, b"x-request-id")


def error_answer(scope: Scope, error: GatewayError) -> Response:
    """The answer to a request that failed with `error`: the OpenAI error shape, and its
    record marked failed."""
    record = record_of(scope)
    if record is not None:
        record.fail(error)
    return error_response(error)


def record_of(scope: Scope) -> RequestRecord | None:
    """The record the middleware attached to this request (None outside the middleware)."""
    return scope.get("state", {}).get("record")


def response_headers_for(record: RequestRecord) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-request-id", record.request_id.encode())]
    if record.route_path is not None:
        headers.append((b"x-routing-path", record.route_path.encode()))
        headers.append((b"x-routing-reason", (record.route_reason or "").encode()))
        if record.model and _HEADER_SAFE.match(record.model):
            headers.append((b"x-routing-model", record.model.encode()))
    if record.route_policy is not None:  # also on a policy's refusal, which comes before routing
        headers.append((b"x-routing-policy", record.route_policy.encode()))
    if record.trace_id is not None:
        headers.append((b"x-trace-id", record.trace_id.encode()))
    headers.extend(record.upstream_headers)  # LiteLLM's x-litellm-* (passthrough)
    if record.admission is not None:  # a limited client's x-ratelimit-* (api/clients/admission.py)
        headers.extend((name.encode(), value.encode()) for name, value in record.admission.headers.items())
    return headers


class DisconnectWatch:
    """A `receive` wrapper that, once the body is read, notices the client leaving.

    After the last body message it arranges one watcher awaiting the server's `receive`;
    an `http.disconnect` before the response is complete calls `on_disconnect`. The
    watcher starts only if the request is still running `WATCH_AFTER_SECONDS` later: most
    answers are done by then, and a timer costs far less than a task per request. Later
    `receive` calls by the app wait on the same event instead of competing for the
    server's queue.
    """

    def __init__(self, receive: Receive, on_disconnect: Callable[[], None]) -> None:
        self._receive = receive
        self._on_disconnect = on_disconnect
        self._body_done = False
        self._disconnected = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.response_complete = False
        self.client_left = False

    async def receive(self) -> Message:
        if self._body_done:
            await self._disconnected.wait()
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self._note_disconnect()
        elif not message.get("more_body", False):
            self._body_done = True
            self._timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, self._start)
        return message

    def stop(self) -> None:
        """The request is over: no more watching."""
        if self._timer is not None:
            self._timer.cancel()
        if self._task is not None:
            self._task.cancel()

    def _start(self) -> None:
        self._timer = None
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._note_disconnect()
                return

    def _note_disconnect(self) -> None:
        self._disconnected.set()
        if not self.response_complete:
            self.client_left = True
            self._on_disconnect()


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, observers: Sequence[RequestObserver], drain: Drain) -> None:
        self.app = app
        self.observers = observers
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(
            request_id=new_request_id(),
            method=scope["method"],
            path=scope["path"],
            session_id=sane_header(scope, b"x-session-id"),
            client_request_id=client_request_id_from(scope),
        )
        scope.setdefault("state", {})["record"] = record
        # Every line logged while this request runs carries its id (the task's own context).
        structlog.contextvars.bind_contextvars(request_id=record.request_id)
        finished = False

        def finish() -> None:
            nonlocal finished
            if not finished:
                finished = True
                record.latency_ms = record.elapsed_ms()
                self._notify(record)

        try:
            await self._run(scope, receive, send, record, finish)
        finally:
            finish()

    async def _run(
        self, scope: Scope, receive: Receive, send: Send, record: RequestRecord, finish: Callable[[], None]
    ) -> None:
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                record.http_status = message["status"]
                message["headers"] = [*message.get("headers", ()), *response_headers_for(record)]
                if self.drain.draining:  # keep-alive clients reconnect to an instance that stays
                    message["headers"].append((b"connection", b"close"))
            elif message["type"] == "http.response.body":
                body = message.get("body")
                # A keep-alive comment (`:`) is not the first token.
                if record.stream and record.ttft_ms is None and body and body[:1] != b":":
                    record.ttft_ms = record.elapsed_ms()
                if not message.get("more_body", False):
                    watch.response_complete = True
                    finish()  # before the last bytes leave: a killed process still has the row
            await send(message)

        with anyio.CancelScope() as app_scope:
            watch = DisconnectWatch(receive, app_scope.cancel)
            if self.drain.refuses(scope["path"]):
                error = draining_error()
                record.fail(error)
                await error_response(error)(scope, watch.receive, send_wrapper)
                return
            in_flight = scope["state"]["in_flight"] = self.drain.track(scope["path"], app_scope.cancel)
            try:
                await self.app(scope, watch.receive, send_wrapper)
            except ClientDisconnect:
                pass  # the client left while sending its body: a cancel, noted by the watch
            except Exception:
                # Anything the app's own handlers did not turn into a response is a bug.
                log.exception("unhandled_error", request_id=record.request_id)
                error = internal_error()
                record.fail(error)
                if not started:
                    await error_response(error)(scope, watch.receive, send_wrapper)
            finally:
                watch.stop()
                self.drain.finished(in_flight)

        if in_flight.was_cut:  # a stream has already said so itself; this covers the rest
            error = draining_error()
            record.fail(error)
            if not started:
                await error_response(error)(scope, watch.receive, send_wrapper)
        if watch.client_left:
            record.status = "cancelled"
            if not started:
                record.http_status = CLIENT_CLOSED_REQUEST

    def _notify(self, record: RequestRecord) -> None:
        for observer in self.observers:
            try:
                observer.request_finished(record)
            except Exception:
                # An observer (log, metrics, audit) must never break the request path.
                log.exception("observer_failed", observer=type(observer).__name__)
