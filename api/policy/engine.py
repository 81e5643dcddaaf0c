"""Policy routing at the request's edge: the facts of a request, the rule that decides, its effect.

Applied once per chat request, after admission and before routing: the rules do not
depend on the path, and the classifier's call (auto routing) is an upstream call that must
obey them too. `use_model` rewrites the body's model, keeping a `reasoning/` or `auto/`
prefix, so the router, the paths and every LLM call they make see the policy's model; the
classifier reads `record.policy_model`. What matched is never recorded, logged or traced:
only the rule's name.
"""

from __future__ import annotations

from typing import Any

from api.clients.admission import prompt_estimate
from api.clients.model import Client
from api.errors import PermissionDeniedError
from api.policy.config import RoutingPolicyConfig
from api.policy.rules import PolicyInput, Rule, conversation_text, evaluate
from api.request_record import RequestRecord
from api.routing.decision import RoutingPolicy, split_virtual_model
from api.upstream.cost import table_price


class PolicyRefusedError(PermissionDeniedError):
    default_code = "policy_refused"


class PolicyEngine:
    def __init__(self, policy: RoutingPolicyConfig, prefixes: RoutingPolicy) -> None:
        self.policy = policy
        self.prefixes = prefixes
        self.prices_needed = any(rule.when.min_estimated_cost_usd is not None for rule in policy.rules)

    def apply(self, body: dict[str, Any], client: Client, record: RequestRecord) -> dict[str, Any]:
        """The body the request goes on with; raises the 403 of a `refuse` rule."""
        if not self.policy.rules:
            return body
        requested = str(body.get("model", ""))
        _, model = split_virtual_model(requested, self.prefixes)
        rule = evaluate(self.policy.rules, self.facts(body, client, model, record))
        if rule is None:
            return body
        record.route_policy = rule.name
        if rule.action == "refuse":
            raise PolicyRefusedError(refusal_message(rule))
        if rule.action == "allow" or rule.model is None or rule.model == model:
            return body
        record.policy_model = rule.model
        return {**body, "model": requested[: len(requested) - len(model)] + rule.model}

    def facts(self, body: dict[str, Any], client: Client, model: str, record: RequestRecord) -> PolicyInput:
        tokens = prompt_estimate(record.prompt_chars)
        cost = table_price({"prompt_tokens": tokens}, model) if self.prices_needed else None
        return PolicyInput(conversation_text(body.get("messages") or []), tokens, cost, client.name, model)


def refusal_message(rule: Rule) -> str:
    """Names the rule and says what the operator wrote; never the text that matched."""
    said = f" {rule.message.strip()}" if rule.message and rule.message.strip() else ""
    return f"The routing policy refuses this request (rule {rule.name!r}).{said}"
