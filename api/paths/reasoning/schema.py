"""The structured step the model must return at each iteration (contract section 6)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NextAction = Literal["continue_thinking", "use_tools", "finished"]


class ToolPrediction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    tool_name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)
    reasoning: str = ""


class ReasoningStep(BaseModel):
    model_config = ConfigDict(extra="ignore")

    thought: str
    next_action: NextAction
    tools_to_use: list[ToolPrediction] = Field(default_factory=list)
    concurrent_execution: bool = False

    @property
    def wants_tools(self) -> bool:
        return self.next_action == "use_tools" and bool(self.tools_to_use)


def step_response_format(kind: str) -> dict[str, Any]:
    """The `response_format` a step call sends: structured output, or plain JSON mode."""
    if kind == "json_object":
        return {"type": "json_object"}
    # Not strict: tool arguments are free-form objects, which strict schemas cannot express.
    return {
        "type": "json_schema",
        "json_schema": {"name": "reasoning_step", "strict": False, "schema": ReasoningStep.model_json_schema()},
    }
