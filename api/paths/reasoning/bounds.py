"""What one reasoning step may cost (pure): tools per step, characters per tool result.

A step asking for more than MAX_TOOLS_PER_STEP tools runs the first ones; the rest are
refused as failed `tool_result`s that say why, so the model sees the limit and can ask
again in the next step (dropping them silently would look like lost answers).
A tool result or error longer than TOOL_RESULT_MAX_CHARS is cut once, where it enters
the agent, so the model, the `tool_result` event (marked `truncated: true`) and the TOOL
span all hold the same bounded text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from api.mcp.connection import ToolOutcome
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.schema import ToolPrediction

TRUNCATION_MARK = " …[truncated]"


def split_at_limit(
    predictions: Sequence[ToolPrediction], max_tools: int
) -> tuple[list[ToolPrediction], list[ToolCallResult]]:
    """The predictions to run, and the refused rest as failed results (in the step's order)."""
    run, over = list(predictions[:max_tools]), predictions[max_tools:]
    error = (
        f"not run: the step asked for {len(predictions)} tools and at most {max_tools} run per step "
        "(MAX_TOOLS_PER_STEP); ask for it again in the next step"
    )
    return run, [ToolCallResult(prediction, ToolOutcome(False, None, error, 0.0)) for prediction in over]


def cap_outcome(outcome: ToolOutcome, max_chars: int) -> ToolOutcome:
    """The outcome with its result and error cut to `max_chars` (plus a mark), flagged `truncated`."""
    result, result_cut = _cap(outcome.result, max_chars)
    error, error_cut = _cap(outcome.error, max_chars)
    if not (result_cut or error_cut):
        return outcome
    return replace(outcome, result=result, error=error, truncated=True)


def _cap(text: str | None, max_chars: int) -> tuple[str | None, bool]:
    if text is None or len(text) <= max_chars:
        return text, False
    return text[:max_chars] + TRUNCATION_MARK, True
