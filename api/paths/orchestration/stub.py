"""The design card's stub: with ORCHESTRATION_ENABLED=false every orchestration request is a 501."""

from __future__ import annotations

from api.errors import NotImplementedPathError
from api.paths.base import ChatCall, PathResult


class OrchestrationStub:
    async def run(self, call: ChatCall) -> PathResult:
        raise NotImplementedPathError(
            "The orchestration path is not implemented yet; use passthrough or reasoning "
            "(X-Routing-Mode header) instead.",
            code="orchestration_not_implemented",
        )
