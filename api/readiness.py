"""Readiness: each dependency reports `ok` / `degraded` / `down`; only critical ones gate 503."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx2
import openai
from openai import AsyncOpenAI

from api.mcp.manager import McpManager
from api.upstream.errors import translate_exception

ComponentStatus = Literal["ok", "degraded", "down"]
CHECK_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    status: ComponentStatus
    detail: str | None = None


class ReadinessCheck(Protocol):
    #: A critical component that is down makes the gateway not ready (503).
    critical: bool

    async def check(self) -> ComponentHealth: ...


class UpstreamCheck:
    """The upstream answers an authenticated `GET /models` (so the key is checked too)."""

    critical = True

    def __init__(self, llm: AsyncOpenAI) -> None:
        self.llm = llm

    async def check(self) -> ComponentHealth:
        try:
            await self.llm.get(
                "/models",
                cast_to=httpx2.Response,
                options={"timeout": CHECK_TIMEOUT_SECONDS, "max_retries": 0},
            )
        except (openai.APIError, httpx2.HTTPError) as exc:
            error = translate_exception(exc)
            # A full pool is this replica at capacity, not the upstream gone: staying ready
            # keeps every saturated replica from leaving the load balancer at once.
            return ComponentHealth("degraded" if error.code == "overloaded" else "down", error.message)
        return ComponentHealth("ok")


class McpCheck:
    """MCP servers: `degraded` when some are down (their tools are missing), `down` when all are."""

    critical = False  # the gateway still serves passthrough, and reasoning with fewer tools

    def __init__(self, mcp: McpManager) -> None:
        self.mcp = mcp

    async def check(self) -> ComponentHealth:
        enabled = [s for s in self.mcp.statuses() if s.state != "disabled"]
        not_up = [s for s in enabled if s.state != "up"]
        if not enabled:
            return ComponentHealth("ok", "no MCP servers configured")
        if not not_up:
            return ComponentHealth("ok", f"{len(enabled)} up")
        detail = "; ".join(f"{s.name} {s.state}" + (f" ({s.error})" if s.error else "") for s in not_up)
        return ComponentHealth("down" if len(not_up) == len(enabled) else "degraded", detail)


async def run_checks(checks: dict[str, ReadinessCheck]) -> tuple[bool, dict[str, ComponentHealth]]:
    """Run every check concurrently (each bounded); ready unless a critical one is down."""

    async def bounded(check: ReadinessCheck) -> ComponentHealth:
        try:
            return await asyncio.wait_for(check.check(), CHECK_TIMEOUT_SECONDS + 0.5)
        except TimeoutError:
            return ComponentHealth("down", "the check timed out")

    names = list(checks)
    results = await asyncio.gather(*(bounded(checks[name]) for name in names))
    report = dict(zip(names, results, strict=True))
    ready = not any(checks[name].critical and report[name].status == "down" for name in names)
    return ready, report
