"""Every agent the orchestrator knows: the built-in `reasoning` agent and the remote A2A ones.

Remote agents' cards are fetched in the background at start-up and re-fetched every
ORCHESTRATION_AGENTS_REFRESH_SECONDS (sooner, with backoff, while an agent is down), so a
slow or dead agent never delays the gateway or a request. `available()` is a live view of
the agents that are up: the planner sees only those (the orchestrator takes a snapshot per
request). `statuses()` serves `GET /v1/agents`; `AgentsCheck` is the non-critical
`/health/ready` component.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from api.observability.tracing import Tracing
from api.paths.orchestration.agents import Agent
from api.paths.orchestration.agents_config import RemoteAgentConfig
from api.paths.orchestration.remote import RemoteAgent, card_skills
from api.readiness import ComponentHealth

INITIAL_BACKOFF_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class AgentStatus:
    name: str
    kind: str  # builtin | a2a
    description: str
    url: str | None
    skills: list[dict[str, str]]
    status: str  # up | down | connecting | disabled
    streaming: bool | None
    last_error: str | None
    last_refresh: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "url": self.url,
            "skills": self.skills,
            "status": self.status,
            "streaming": self.streaming,
            "last_error": self.last_error,
            "last_refresh": self.last_refresh,
        }


class AvailableAgents(Mapping[str, Agent]):
    """The agents up right now (a live view)."""

    def __init__(self, registry: AgentRegistry) -> None:
        self.registry = registry

    def _agents(self) -> dict[str, Agent]:
        return self.registry.available()

    def __getitem__(self, name: str) -> Agent:
        return self._agents()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._agents())

    def __len__(self) -> int:
        return len(self._agents())


class AgentRegistry:
    def __init__(
        self, builtin: Agent | None, configs: list[RemoteAgentConfig], tracing: Tracing, *, refresh_interval: float
    ) -> None:
        self.builtin = builtin
        self.remote = [RemoteAgent(config, tracing) for config in configs]
        self.refresh_interval = refresh_interval
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start fetching every enabled agent's card in the background; returns at once."""
        self._tasks = [
            asyncio.create_task(self._keep_fresh(agent), name=f"a2a:{agent.name}")
            for agent in self.remote
            if agent.config.enabled
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for agent in self.remote:
            await agent.close()

    async def _keep_fresh(self, agent: RemoteAgent) -> None:
        backoff = INITIAL_BACKOFF_SECONDS
        while True:
            await agent.refresh()
            if agent.state == "up":
                backoff = INITIAL_BACKOFF_SECONDS
                await asyncio.sleep(self.refresh_interval)
            else:
                await asyncio.sleep(min(backoff, self.refresh_interval))
                backoff *= 2

    def available(self) -> dict[str, Agent]:
        agents: dict[str, Agent] = {} if self.builtin is None else {self.builtin.name: self.builtin}
        agents.update({agent.name: agent for agent in self.remote if agent.state == "up"})
        return agents

    def statuses(self) -> list[AgentStatus]:
        listed = []
        if self.builtin is not None:
            listed.append(
                AgentStatus(self.builtin.name, "builtin", self.builtin.description, None, [], "up", True, None, None)
            )
        for agent in self.remote:
            card = agent.card
            skills = [asdict(skill) for skill in card_skills(card)] if card is not None else []
            listed.append(
                AgentStatus(
                    name=agent.name,
                    kind="a2a",
                    description=agent.description,
                    url=agent.config.url,
                    skills=skills,
                    status=agent.state,
                    streaming=agent.streaming if card is not None else None,
                    last_error=agent.error,
                    last_refresh=agent.last_refresh.isoformat() if agent.last_refresh else None,
                )
            )
        return listed


class AgentsCheck:
    """Remote agents: `degraded` when some are down (left out of plans), `down` when all are."""

    critical = False  # the built-in agent still runs every plan

    def __init__(self, registry: AgentRegistry) -> None:
        self.registry = registry

    async def check(self) -> ComponentHealth:
        enabled = [a for a in self.registry.remote if a.state != "disabled"]
        if not enabled:
            return ComponentHealth("ok", "no remote agents configured")
        not_up = [a for a in enabled if a.state != "up"]
        if not not_up:
            return ComponentHealth("ok", f"{len(enabled)} up")
        detail = "; ".join(f"{a.name} {a.state}" + (f" ({a.error})" if a.error else "") for a in not_up)
        return ComponentHealth("down" if len(not_up) == len(enabled) else "degraded", detail)
