"""Running the tools a step asked for: concurrently when it says so, each with a timeout.

Nothing here raises for a failed tool: an unknown name, a server that is down, a timeout,
a tool error or a call over MAX_TOOLS_PER_STEP all become a `ToolCallResult` with
`success: false`, fed back to the model. Results are cut to TOOL_RESULT_MAX_CHARS as they
arrive (bounds.py). Each call is a TOOL span and counts in `tool_calls_total` /
`tool_call_duration_seconds`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio

from api.mcp.connection import ToolOutcome, elapsed_ms
from api.mcp.manager import McpManager, ToolSpec
from api.observability.metrics import Metrics
from api.observability.tracing import Tracing
from api.paths.reasoning.bounds import cap_outcome, split_at_limit
from api.paths.reasoning.events import ToolCallResult
from api.paths.reasoning.schema import ToolPrediction


class ToolRunner:
    def __init__(
        self,
        mcp: McpManager,
        timeout: float,
        tracing: Tracing,
        metrics: Metrics,
        *,
        max_tools: int,
        max_result_chars: int,
    ) -> None:
        self.mcp = mcp
        self.timeout = timeout
        self.tracing = tracing
        self.metrics = metrics
        self.max_tools = max_tools
        self.max_result_chars = max_result_chars

    async def run(
        self, predictions: Sequence[ToolPrediction], concurrent: bool, tools: dict[str, ToolSpec]
    ) -> list[ToolCallResult]:
        to_run, refused = split_at_limit(predictions, self.max_tools)
        return [*await self._run(to_run, concurrent, tools), *refused]

    async def _run(
        self, predictions: Sequence[ToolPrediction], concurrent: bool, tools: dict[str, ToolSpec]
    ) -> list[ToolCallResult]:
        if not concurrent or len(predictions) < 2:
            return [await self._one(p, tools) for p in predictions]
        results: list[ToolCallResult | None] = [None] * len(predictions)

        async def fill(index: int, prediction: ToolPrediction) -> None:
            results[index] = await self._one(prediction, tools)

        async with anyio.create_task_group() as group:
            for index, prediction in enumerate(predictions):
                group.start_soon(fill, index, prediction)
        return [r for r in results if r is not None]

    async def _one(self, prediction: ToolPrediction, tools: dict[str, ToolSpec]) -> ToolCallResult:
        spec = tools.get(prediction.tool_name)
        if spec is None:
            known = ", ".join(sorted(tools)) or "none"
            error = f"unknown tool '{prediction.tool_name}' (available: {known})"
            return ToolCallResult(prediction, ToolOutcome(False, None, error, 0.0))
        with self.tracing.tool_span(spec.server, spec.tool, prediction.arguments) as span:
            started = time.perf_counter()
            outcome: ToolOutcome | None = None
            with anyio.move_on_after(self.timeout):
                outcome = await self.mcp.call(spec, prediction.arguments)
            if outcome is None:
                outcome = ToolOutcome(False, None, f"timed out after {self.timeout:g} s", elapsed_ms(started))
                label = "timeout"
            else:
                label = "ok" if outcome.success else "error"
            outcome = cap_outcome(outcome, self.max_result_chars)
            self.metrics.tool_call(spec.server, spec.tool, label, outcome.duration_ms / 1000)
            span.set_attribute("gateway.tool.outcome", label)
            self.tracing.set_output(span, outcome.result if outcome.success else outcome.error)
        return ToolCallResult(prediction, outcome)
