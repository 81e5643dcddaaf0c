"""Bounds of one reasoning step: tools per step, characters per tool result (contract section 13)."""

from __future__ import annotations

from api.mcp.connection import ToolOutcome
from api.paths.reasoning import events
from api.paths.reasoning.bounds import TRUNCATION_MARK, cap_outcome, split_at_limit
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.schema import ToolPrediction


def predictions(count: int) -> list[ToolPrediction]:
    return [ToolPrediction(tool_name=f"tool_{i}", arguments={"i": i}) for i in range(count)]


def test_calls_past_the_limit_are_refused_as_failed_results_that_say_why():
    run, refused = split_at_limit(predictions(5), 3)
    assert [p.tool_name for p in run] == ["tool_0", "tool_1", "tool_2"]
    assert [r.prediction.tool_name for r in refused] == ["tool_3", "tool_4"]
    assert all(not r.outcome.success for r in refused)
    assert "MAX_TOOLS_PER_STEP" in (refused[0].outcome.error or "")
    assert "asked for 5 tools and at most 3" in (refused[0].outcome.error or "")


def test_within_the_limit_nothing_is_refused():
    run, refused = split_at_limit(predictions(2), 2)
    assert (len(run), refused) == (2, [])


def test_a_long_result_is_cut_and_flagged_a_short_one_untouched():
    short = ToolOutcome(True, "sunny", None, 3.0)
    assert cap_outcome(short, 10) is short
    cut = cap_outcome(ToolOutcome(True, "x" * 50, None, 3.0), 10)
    assert cut.result == "x" * 10 + TRUNCATION_MARK
    assert cut.truncated
    assert (cut.success, cut.duration_ms) == (True, 3.0)


def test_a_long_error_is_cut_too():
    cut = cap_outcome(ToolOutcome(False, None, "e" * 50, 1.0), 10)
    assert cut.error == "e" * 10 + TRUNCATION_MARK
    assert cut.truncated


def test_the_event_marks_truncated_results_only():
    long = ToolCallResult(predictions(1)[0], cap_outcome(ToolOutcome(True, "y" * 50, None, 1.0), 10))
    short = ToolCallResult(predictions(2)[1], ToolOutcome(True, "ok", None, 1.0))
    entries = events.tool_result(1, [long, short]).metadata["tool_results"]
    assert entries[0]["truncated"] is True
    assert "truncated" not in entries[1]
