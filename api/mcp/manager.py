"""The MCP client manager: every configured server's connection, and one tool registry.

Servers connect in the background at start-up, so a slow or dead server never delays
the gateway; until a server is up its tools are simply absent. Tools are never listed
per request: the registry is rebuilt from the connections' cached lists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from api.mcp.config import McpServerConfig
from api.mcp.connection import ProbeSettings, ServerConnection, ServerState, ToolOutcome
from api.mcp.naming import exposed_names


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the agent and `GET /tools` see it."""

    name: str
    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ServerStatus:
    name: str
    transport: str
    state: ServerState
    tool_count: int
    error: str | None
    last_refresh: str | None


class McpManager:
    def __init__(
        self,
        configs: list[McpServerConfig],
        *,
        connect_timeout: float,
        refresh_interval: float,
        probe: ProbeSettings,
    ) -> None:
        self.connections = [
            ServerConnection(config, connect_timeout=connect_timeout, refresh_interval=refresh_interval, probe=probe)
            for config in configs
        ]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start connecting every enabled server in the background; returns at once."""
        self._tasks = [
            asyncio.create_task(connection.run(), name=f"mcp:{connection.name}")
            for connection in self.connections
            if connection.config.enabled
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def tools(self) -> list[ToolSpec]:
        """The tools of every server that is up, named by the contract's rule."""
        names = exposed_names({c.name: [t.name for t in c.tools] for c in self.connections if c.tools})
        return [
            ToolSpec(
                name=names[(connection.name, tool.name)],
                server=connection.name,
                tool=tool.name,
                description=tool.description or "",
                input_schema=dict(tool.input_schema),
            )
            for connection in self.connections
            if connection.state == "up"
            for tool in connection.tools
        ]

    def statuses(self) -> list[ServerStatus]:
        return [
            ServerStatus(
                name=c.name,
                transport=c.config.transport,
                state=c.state,
                tool_count=len(c.tools) if c.state == "up" else 0,
                error=c.error if c.state != "up" else None,
                last_refresh=c.last_refresh.isoformat() if c.last_refresh else None,
            )
            for c in self.connections
        ]

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolOutcome:
        connection = next(c for c in self.connections if c.name == spec.server)
        return await connection.call(spec.tool, arguments)
