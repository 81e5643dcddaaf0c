"""Orchestration: a real `ChatPath` that answers 501 until multi-agent work lands."""

from __future__ import annotations

from api.errors import NotImplementedPathError
from api.paths.base import ChatCall, PathResult


class OrchestrationPath:
    async def run(self, call: ChatCall) -> PathResult:
        raise NotImplementedPathError(
            "The orchestration path is not implemented yet; use passthrough or reasoning "
            "(X-Routing-Mode header) instead.",
            code="orchestration_not_implemented",
        )
