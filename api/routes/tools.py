"""`GET /tools`: the MCP tools the reasoning agent can use, and each server's state."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter

from api.dependencies import Services

router = APIRouter()


@router.get("/tools", summary="MCP tools available to the reasoning agent, and each MCP server's state")
async def list_tools(services: Services) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"name": t.name, "server": t.server, "description": t.description, "input_schema": t.input_schema}
            for t in services.mcp.tools()
        ],
        "servers": [asdict(status) for status in services.mcp.statuses()],
    }
