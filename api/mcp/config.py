"""`config/mcp_servers.yaml`: which MCP servers the reasoning agent may use.

servers:
  - name: demo                      # letters, digits, - and _; used in tool names
    url: http://localhost:8001/mcp  # streamable HTTP ...
    headers: {Authorization: Bearer x}
  - name: time
    command: mcp-server-time        # ... or a stdio command
    args: ["--local-timezone", "UTC"]
    env: {}
    enabled: true                   # false keeps the entry but never connects
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    enabled: bool = True
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.url is None) == (self.command is None):
            raise ValueError(
                f"MCP server {self.name!r}: give exactly one of `url` (streamable HTTP) or `command` (stdio)"
            )
        return self

    @property
    def transport(self) -> str:
        return "streamable_http" if self.url else "stdio"


class McpConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    servers: list[McpServerConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> McpConfigFile:
        names = [server.name for server in self.servers]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"MCP server names must be unique; repeated: {', '.join(duplicates)}")
        return self


def load_mcp_config(path: str | Path) -> list[McpServerConfig]:
    """The configured servers; a missing file means none. A malformed file fails start-up."""
    file = Path(path)
    if not file.exists():
        return []
    try:
        raw = yaml.safe_load(file.read_text()) or {}
        return McpConfigFile.model_validate(raw).servers
    except (yaml.YAMLError, ValidationError) as exc:
        raise ValueError(f"Invalid MCP server configuration in {file}: {exc}") from exc
