"""A remote A2A agent as an orchestration `Agent`, through the official A2A SDK (`a2a-sdk`).

One `RemoteAgent` per entry of config/agents.yaml. The registry (agent_registry.py) fetches
its card in the background (`refresh`); while the card is known the agent is `up` and a
task is one A2A message: streamed (`SendStreamingMessage`, 0.3's `message/stream`) when the
card says `capabilities.streaming`, else sent (`SendMessage` / `message/send`) and, if the
answer is a task still running, polled until it ends. Status updates with text become
`Progress`; the artifacts' text (or, without one, the final message's) is the `Finished`
result; a task that ends failed, rejected, cancelled or asking for input is `TaskFailed`.
Closing the iterator early (a timeout, the client leaving) sends `CancelTask`
(`tasks/cancel`) for the task, shielded so the cancellation itself is not cancelled.

Every A2A HTTP request carries `traceparent` for the span current when it is sent (the
task's A2A span), so the remote agent's spans can join the gateway's trace. The pure parts
(card → description, stream response → progress, the task's text) are plain functions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import httpx
import structlog
from a2a.client import A2AClientError, Client, ClientConfig, ClientFactory
from a2a.client.card_resolver import parse_agent_card
from a2a.types.a2a_pb2 import (
    AgentCard,
    CancelTaskRequest,
    GetTaskRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
)
from opentelemetry import propagate, trace

from api.observability.tracing import AGENT, Tracing
from api.paths.orchestration.agents import DependencyResult, Finished, Progress, TaskContext, TaskFailed
from api.paths.orchestration.agents_config import RemoteAgentConfig
from api.paths.orchestration.plan import PlannedTask
from api.shielded import close_shielded

log = structlog.get_logger(__name__)

AgentState = Literal["connecting", "up", "down", "disabled"]
CARD_TIMEOUT_SECONDS = 5.0
POLL_INTERVAL_SECONDS = 0.2
ENDED = {TaskState.TASK_STATE_COMPLETED}
FAILED = {
    TaskState.TASK_STATE_FAILED: "the remote agent's task failed",
    TaskState.TASK_STATE_REJECTED: "the remote agent rejected the task",
    TaskState.TASK_STATE_CANCELED: "the remote agent cancelled the task",
    TaskState.TASK_STATE_INPUT_REQUIRED: "the remote agent asks for input, which a planned task cannot give",
    TaskState.TASK_STATE_AUTH_REQUIRED: "the remote agent asks for authorisation, which a planned task cannot give",
}


# ---- pure parts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SkillInfo:
    id: str
    name: str
    description: str


def card_skills(card: AgentCard) -> list[SkillInfo]:
    return [SkillInfo(s.id, s.name, s.description) for s in card.skills]


def card_description(card: AgentCard) -> str:
    """What the planner reads about the agent: its description, then its skills."""
    text = card.description.strip() or card.name
    skills = "; ".join(f"{s.name or s.id}: {s.description}".strip(": ") for s in card.skills)
    return f"{text} (skills: {skills})" if skills else text


def task_text(task: PlannedTask, dependencies: Sequence[DependencyResult]) -> str:
    """The message a remote agent gets: a self-contained job, with what it builds on."""
    if not dependencies:
        return task.instruction
    results = "\n".join(f"- From task {d.task_id} ({d.agent}): {d.result}" for d in dependencies)
    return f"{task.instruction}\n\nResults of the tasks this one builds on:\n{results}"


def parts_text(parts: Sequence[Part]) -> str:
    return "\n".join(part.text for part in parts if part.text)


def state_name(state: int) -> str:
    return TaskState.Name(state).removeprefix("TASK_STATE_").lower()


@dataclass
class RemoteTask:
    """What a remote task's stream has said so far (`feed` each response, in order)."""

    task_id: str | None = None
    state: int = TaskState.TASK_STATE_UNSPECIFIED
    artifacts: dict[str, str] = field(default_factory=dict)  # artifact id → text, in order
    last_message: str = ""
    reply: str | None = None  # a direct message answer (no task)

    @property
    def done(self) -> bool:
        return self.reply is not None or self.state in ENDED or self.state in FAILED

    def feed(self, response: StreamResponse) -> Progress | None:
        """The progress this response shows, if any; `TaskFailed` when the task ended badly."""
        kind = response.WhichOneof("payload")
        if kind == "message":
            self.reply = parts_text(response.message.parts)
            return None
        if kind == "task":
            return self._task(response.task)
        if kind == "artifact_update":
            event = response.artifact_update
            self.task_id = self.task_id or event.task_id
            text = parts_text(event.artifact.parts)
            key = event.artifact.artifact_id or str(len(self.artifacts))
            self.artifacts[key] = self.artifacts.get(key, "") + text if event.append else text
            return None
        if kind == "status_update":
            event = response.status_update
            self.task_id = self.task_id or event.task_id
            return self._status(event.status.state, parts_text(event.status.message.parts))
        return None

    def _task(self, task: Task) -> Progress | None:
        self.task_id = task.id or self.task_id
        for index, artifact in enumerate(task.artifacts):  # a task is a full snapshot
            self.artifacts[artifact.artifact_id or str(index)] = parts_text(artifact.parts)
        agent_texts = [parts_text(m.parts) for m in task.history if m.role == Role.ROLE_AGENT]
        if agent_texts and agent_texts[-1]:
            self.last_message = agent_texts[-1]
        return self._status(task.status.state, parts_text(task.status.message.parts))

    def _status(self, state: int, text: str) -> Progress | None:
        self.state = state
        if text:
            self.last_message = text
        if state in FAILED:
            raise TaskFailed(f"{FAILED[state]}: {text}" if text else FAILED[state])
        if text and state not in ENDED:
            return Progress(text, {"a2a_state": state_name(state)})
        return None

    def result(self) -> str | None:
        if self.reply is not None:
            return self.reply
        if self.state not in ENDED:
            return None
        texts = [text for text in self.artifacts.values() if text]
        return "\n".join(texts) if texts else self.last_message


# ---- the agent ----------------------------------------------------------------------------


async def _on_request(request: httpx.Request) -> None:
    # Runs in the task sending the request: the current span is the task's A2A span.
    propagate.inject(request.headers)


class RemoteAgent:
    def __init__(self, config: RemoteAgentConfig, tracing: Tracing) -> None:
        self.config = config
        self.tracing = tracing
        self.state: AgentState = "connecting" if config.enabled else "disabled"
        self.error: str | None = None
        self.card: AgentCard | None = None
        self.last_refresh: datetime | None = None
        self._http: httpx.AsyncClient | None = None
        self._client: Client | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def description(self) -> str:
        return card_description(self.card) if self.card is not None else ""

    @property
    def streaming(self) -> bool:
        return self.card is not None and self.card.capabilities.streaming

    def _http_client(self) -> httpx.AsyncClient:
        if self._http is None:
            # No read timeout: a task runs as long as the executor lets it (per-task timeout).
            self._http = httpx.AsyncClient(
                headers=self.config.headers,
                timeout=httpx.Timeout(None, connect=CARD_TIMEOUT_SECONDS),
                event_hooks={"request": [_on_request]},
            )
        return self._http

    async def refresh(self) -> None:
        """Fetch the card; `up` with a client for it, or `down` with the reason."""
        try:
            response = await self._http_client().get(self.config.url, timeout=CARD_TIMEOUT_SECONDS)
            response.raise_for_status()
            card = parse_agent_card(response.json())
            client = ClientFactory(ClientConfig(httpx_client=self._http_client(), streaming=True)).create(card)
        except Exception as exc:  # refused, timed out, not JSON, not a card, no transport we speak
            self.mark_down(_reason(exc))
            return
        old, self._client, self.card = self._client, client, card
        self.state, self.error, self.last_refresh = "up", None, datetime.now(UTC)
        if old is not None and old is not client:
            await _close_client(old)

    def mark_down(self, reason: str) -> None:
        if self.state != "down" or self.error != reason:
            log.warning("a2a_agent_down", agent=self.name, error=reason)
        self.state, self.error = "down", reason

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _close_client(client)
        http, self._http = self._http, None
        if http is not None:
            await http.aclose()

    async def run(self, task: PlannedTask, context: TaskContext) -> AsyncIterator[Progress | Finished]:
        client = self._client
        if client is None:
            raise TaskFailed(f"the remote agent {self.name} is not reachable: {self.error or 'no agent card yet'}")
        message = Message(
            message_id=uuid.uuid4().hex,
            role=Role.ROLE_USER,
            parts=[Part(text=task_text(task, context.dependencies))],
        )
        remote = RemoteTask()
        attributes = {"gateway.orchestration.remote_agent": self.name, "gateway.orchestration.a2a_url": self.config.url}
        task_span = trace.get_current_span()  # the executor's span of this task
        task_span.set_attributes(attributes)
        with self.tracing.span(f"a2a {self.name}", AGENT, attributes) as span:
            self.tracing.set_input(span, message.parts[0].text)
            try:
                async for response in client.send_message(SendMessageRequest(message=message)):
                    progress = remote.feed(response)
                    if remote.task_id:
                        for named in (task_span, span):
                            named.set_attribute("gateway.orchestration.a2a_task_id", remote.task_id)
                    if progress is not None:
                        yield progress
                while not remote.done and remote.task_id:  # sent, not streamed: the task runs on
                    await asyncio.sleep(POLL_INTERVAL_SECONDS)
                    snapshot = await client.get_task(GetTaskRequest(id=remote.task_id))
                    progress = remote.feed(StreamResponse(task=snapshot))
                    if progress is not None:
                        yield progress
            except (A2AClientError, httpx.HTTPError) as exc:
                if isinstance(exc, httpx.TransportError):
                    self.mark_down(_reason(exc))  # left out of plans until its card answers again
                raise TaskFailed(f"the remote agent {self.name} failed: {_reason(exc)}") from exc
            finally:
                if not remote.done and remote.task_id:
                    await close_shielded(lambda: self._cancel(client, remote.task_id or ""))
            result = remote.result()
            if result is None:
                raise TaskFailed(f"the remote agent {self.name} ended its task without a result")
            self.tracing.set_output(span, result)
        yield Finished(result)

    async def _cancel(self, client: Client, task_id: str) -> None:
        log.info("a2a_task_cancel", agent=self.name, a2a_task_id=task_id)
        await client.cancel_task(CancelTaskRequest(id=task_id))


async def _close_client(client: Client) -> None:
    # The clients share the agent's httpx client (ClientConfig.httpx_client), which they do not close.
    try:
        await client.close()
    except Exception as exc:
        log.debug("a2a_client_close_failed", error=repr(exc))


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
