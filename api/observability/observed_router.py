"""The router, observed: a `routing` span around each decision, and the decision metrics.

`ServiceContainer.router` is an `ObservedRouter` wrapping the plain `Router`, so the chat
handler stays as it is (`await services.router.route(body, header, record)`) and the routing
package knows nothing about spans or Prometheus. The span is current while the router
runs, so the classifier's LLM span (auto routing) nests under it.
"""

from __future__ import annotations

from typing import Any, Protocol

from opentelemetry import trace

from api.observability.metrics import Metrics
from api.observability.tracing import CHAIN, Tracing
from api.request_record import RequestRecord
from api.routing.decision import RoutingDecision


class RequestRouter(Protocol):
    async def route(self, body: dict[str, Any], header: str | None, record: RequestRecord) -> RoutingDecision: ...


class ObservedRouter:
    """Same interface as `Router`; `inner` is the router it observes."""

    def __init__(self, inner: RequestRouter, tracing: Tracing, metrics: Metrics) -> None:
        self.inner = inner
        self.tracing = tracing
        self.metrics = metrics

    async def route(self, body: dict[str, Any], header: str | None, record: RequestRecord) -> RoutingDecision:
        if self.tracing.tracer is None:  # tracing off: nothing to open on the hot path
            decision = await self.inner.route(body, header, record)
        else:
            decision = await self._traced_route(body, header, record)
        self.metrics.route_decided(decision.path.value, decision.reason)
        return decision

    async def _traced_route(self, body: dict[str, Any], header: str | None, record: RequestRecord) -> RoutingDecision:
        # The request span is current here: give it the conversation, so Phoenix's list of
        # traces shows what each request asked (only when content may be traced). The
        # routing span itself does not repeat it: its children and its parent have it.
        self.tracing.set_input(trace.get_current_span(), body.get("messages"))
        with self.tracing.span("routing", CHAIN) as span:
            decision = await self.inner.route(body, header, record)
            span.set_attributes(
                {
                    "gateway.routing.path": decision.path.value,
                    "gateway.routing.reason": decision.reason,
                    "gateway.model": decision.upstream_model,
                    **({"gateway.routing.policy": record.route_policy} if record.route_policy else {}),
                    **self.tracing.output_attributes(f"{decision.path.value} ({decision.reason})"),
                }
            )
        return decision
