"""The router: the pure tiers, plus the classifier when a request asks for `auto`."""

from __future__ import annotations

from typing import Any, Protocol

from api.request_record import RequestRecord
from api.routing.decision import NeedsClassifier, RoutingDecision, RoutingPolicy, decide


class Classifier(Protocol):
    """Picks a path for an `auto` request; never raises (it falls back instead)."""

    async def classify(self, body: dict[str, Any], upstream_model: str, record: RequestRecord) -> RoutingDecision: ...


class Router:
    """Turns a request into a `RoutingDecision`, asking the classifier only for `auto`."""

    def __init__(self, policy: RoutingPolicy, classifier: Classifier) -> None:
        self.policy = policy
        self.classifier = classifier

    async def route(self, body: dict[str, Any], header: str | None, record: RequestRecord) -> RoutingDecision:
        outcome = decide(body, header, self.policy)
        if not isinstance(outcome, NeedsClassifier):
            return outcome
        return await self.classifier.classify(body, outcome.upstream_model, record)
