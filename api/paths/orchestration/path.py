"""The orchestration path: the orchestrator's outputs on the reasoning path's wire.

Primed until the plan is known (or failed), so the planner's LLM call failing is a proper
HTTP error; everything after reaches the client as it happens.
"""

from __future__ import annotations

from api.paths.orchestration.events import OrchestrationEvent
from api.paths.orchestration.orchestrator import Orchestrator
from api.paths.reasoning.path import ReasoningPath

PRIMED_AFTER = ("plan", "error", "orchestration_complete")


def orchestration_path(orchestrator: Orchestrator) -> ReasoningPath:
    return ReasoningPath(
        orchestrator, name="orchestration", primed_after=PRIMED_AFTER, list_key=OrchestrationEvent.LIST_KEY
    )
