"""The SERVER span of every traced request (pure ASGI, installed only when tracing is on).

It sits inside the request-context middleware (so it has the request's record) and
outside auth (so a 401 is traced too). It continues an incoming `traceparent` /
`tracestate`, makes itself the current span (routing, path and LLM spans nest under it),
puts `session.id` in the context for child spans, and sets `record.trace_id`, which the
request-context middleware returns as `X-Trace-Id` and the access log prints.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, format_trace_id
from starlette.types import ASGIApp, Receive, Scope, Send

from api.middleware.request_context import record_of
from api.observability.openinference import CHAIN, KIND, USER_ID
from api.observability.tracing import OUTCOME, REQUEST_SPAN_KEY, SESSION_ID, SESSION_KEY, Tracing, end_span
from api.request_record import RequestRecord

#: Probes and scrapes would bury the requests worth looking at.
UNTRACED_PATHS = frozenset({"/health", "/health/ready", "/metrics"})

Headers = list[tuple[bytes, bytes]]


class _ScopeHeaders(Getter[Headers]):
    """Reads W3C trace headers straight from the ASGI header list (no dict per request)."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        name = key.lower().encode("latin-1")
        values = [value.decode("latin-1") for header, value in carrier if header == name]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [header.decode("latin-1") for header, _ in carrier]


_GETTER = _ScopeHeaders()


class ServerSpanMiddleware:
    """`known_paths`: the app's fixed route paths, so a request rejected before routing
    (a 401, say) is still named `POST /v1/chat/completions`; any other path is named by
    its route template, or by the method alone, never by the raw path."""

    def __init__(
        self,
        app: ASGIApp,
        tracing: Tracing,
        known_paths: Iterable[str] = (),
        untraced_paths: Iterable[str] = UNTRACED_PATHS,
    ) -> None:
        self.app = app
        self.tracing = tracing
        self.known = frozenset(known_paths)
        self.untraced = frozenset(untraced_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracer = self.tracing.tracer
        if tracer is None or scope["type"] != "http" or scope["path"] in self.untraced:
            await self.app(scope, receive, send)
            return
        record = record_of(scope)
        parent = propagate.extract(scope.get("headers", []), getter=_GETTER)
        attributes = {KIND: CHAIN, "http.request.method": scope["method"], "url.path": scope["path"]}
        if record is not None:
            attributes["gateway.request_id"] = record.request_id
            if record.client_request_id:
                attributes["gateway.client_request_id"] = record.client_request_id
            if record.session_id:
                attributes[SESSION_ID] = record.session_id
                parent = context.set_value(SESSION_KEY, record.session_id, parent)
        span = tracer.start_span(scope["method"], context=parent, kind=SpanKind.SERVER, attributes=attributes)
        ctx = context.set_value(REQUEST_SPAN_KEY, span, trace.set_span_in_context(span, parent))
        if record is not None:
            record.trace_id = format_trace_id(span.get_span_context().trace_id)
        token = context.attach(ctx)
        failure: BaseException | None = None
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            failure = exc
            raise
        finally:
            context.detach(token)
            span.update_name(self._name(scope))
            _finish(span, record, failure)

    def _name(self, scope: Scope) -> str:
        # A known path or the route template, never an arbitrary raw path: low cardinality.
        path = scope["path"] if scope["path"] in self.known else getattr(scope.get("route"), "path", None)
        return f"{scope['method']} {path}" if path else scope["method"]


def _finish(span: Span, record: RequestRecord | None, failure: BaseException | None) -> None:
    if failure is not None or record is None:
        if record is not None:
            span.set_attributes(_record_attributes(record))
        end_span(span, failure)
        return
    attributes = _record_attributes(record)
    attributes[OUTCOME] = record.status
    status = record.http_status or 0
    if record.status == "error":
        attributes["error.type"] = record.error_code or record.error_type or "error"
        # Our failures (5xx, or an error event after a 200 stream started) are errors;
        # a 4xx is the client's, so its status stays UNSET (OpenTelemetry's HTTP rule).
        if status >= 500 or status < 400:
            span.set_status(Status(StatusCode.ERROR, f"{record.error_type}: {record.error_code}"))
    elif status < 400:
        span.set_status(Status(StatusCode.OK))
    span.set_attributes(attributes)  # one call: each one validates every value it is given
    span.end()


def _record_attributes(record: RequestRecord) -> dict[str, str | int | bool]:
    attributes: dict[str, str | int | bool] = {}
    if record.http_status is not None:
        attributes["http.response.status_code"] = record.http_status
    if record.route_path is not None:
        attributes["gateway.routing.path"] = record.route_path
        attributes["gateway.routing.reason"] = record.route_reason or ""
    if record.route_policy is not None:  # the rule's name only, never what it matched
        attributes["gateway.routing.policy"] = record.route_policy
    if record.model is not None:
        attributes["gateway.model"] = record.model
    if record.requested_model is not None:
        attributes["gateway.requested_model"] = record.requested_model
    if record.stream is not None:
        attributes["gateway.stream"] = record.stream
    if record.client_id is not None:
        attributes["gateway.client_id"] = record.client_id
    if record.client or record.client_id:  # Phoenix's user of the trace and its session
        attributes[USER_ID] = record.client or record.client_id or ""
    return attributes
