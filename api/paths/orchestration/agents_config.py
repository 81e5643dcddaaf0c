"""`config/agents.yaml`: the remote A2A agents the orchestrator may hand tasks to (pure).

agents:
  - name: demo-a2a                                              # letters, digits, - and _
    url: http://127.0.0.1:8002/.well-known/agent-card.json      # the agent's A2A card
    headers: {Authorization: Bearer x}                          # sent on every A2A request
    enabled: true                                               # false: listed, never called

A missing file means no remote agents; a malformed one stops the start-up with a message
naming the file and the entry at fault.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

BUILTIN_NAME = "reasoning"


class RemoteAgentConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True


class AgentsConfigFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agents: list[RemoteAgentConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> AgentsConfigFile:
        names = [agent.name for agent in self.agents]
        if BUILTIN_NAME in names:
            raise ValueError(f"'{BUILTIN_NAME}' is the built-in agent's name: give the remote agent another")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"agent names must be unique; repeated: {', '.join(duplicates)}")
        return self


def parse_agents_config(raw: Any, source: str) -> list[RemoteAgentConfig]:
    """The agents of a parsed YAML document; `ValueError` naming the entry at fault."""
    try:
        return AgentsConfigFile.model_validate(raw or {}).agents
    except ValidationError as exc:
        raise ValueError(f"Invalid agent configuration in {source}: {_problems(exc, raw)}") from exc


def load_agents_config(path: str | Path | None) -> list[RemoteAgentConfig]:
    if path is None:
        return []
    file = Path(path)
    if not file.exists():
        return []
    try:
        raw = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"Invalid agent configuration in {file}: not YAML ({exc})") from exc
    return parse_agents_config(raw, str(file))


def _problems(exc: ValidationError, raw: Any) -> str:
    """Each error with the entry it is about: `agents[1] (name 'x'): url: ...`."""
    lines = []
    for error in exc.errors():
        location = list(error["loc"])
        where = ""
        if len(location) >= 2 and location[0] == "agents" and isinstance(location[1], int):
            index = location[1]
            entry = (raw or {}).get("agents", [])[index] if isinstance(raw, dict) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where = f"agents[{index}]" + (f" (name {name!r})" if name else "")
            location = location[2:]
        field = ".".join(str(part) for part in location)
        lines.append(": ".join(part for part in (where, field, error["msg"]) if part))
    return "; ".join(lines)
