"""The ServiceContainer (everything shared for the app's lifetime) and its Depends getters.

`create_app` builds the container from `Settings` without I/O; the lifespan `start()`s
it (clients are created there, once) and `close()`s it on shutdown, in the reverse order
(a start that fails half-way closes what it had opened). Handlers reach it through
`Services`, never through a global.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Annotated, TypeVar

import structlog
from fastapi import Depends, Request
from openai import AsyncOpenAI
from opentelemetry.sdk.trace.export import SpanExporter

from api.audit.journal import Journal
from api.audit.readiness import AuditStoreCheck
from api.audit.store import AuditStore
from api.audit.writer import AuditWriter, WriterLimits
from api.clients.gate import ClientGate
from api.clients.model import Client
from api.clients.registry import ClientRegistry, ClientsConfigError, load_registry
from api.clients.storage import client_limits
from api.config import Settings, environment
from api.lifecycle.drain import Drain
from api.mcp.config import load_mcp_config
from api.mcp.connection import ProbeSettings
from api.mcp.manager import McpManager
from api.middleware.auth import client_of
from api.middleware.request_context import record_of
from api.observability.access_log import AccessLog
from api.observability.export import TracingCheck
from api.observability.metrics import Metrics
from api.observability.observed_router import ObservedRouter
from api.observability.tracing import Tracing
from api.paths.base import ChatPath
from api.paths.orchestration.agent_registry import AgentRegistry, AgentsCheck, AvailableAgents
from api.paths.orchestration.agents_config import load_agents_config
from api.paths.orchestration.builtin import ReasoningTaskAgent
from api.paths.orchestration.executor import Executor
from api.paths.orchestration.orchestrator import COMPONENT as ORCHESTRATOR
from api.paths.orchestration.orchestrator import Orchestrator
from api.paths.orchestration.path import orchestration_path
from api.paths.orchestration.planner import Planner
from api.paths.orchestration.stub import OrchestrationStub
from api.paths.passthrough import PassthroughPath
from api.paths.reasoning.agent import ReasoningAgent
from api.paths.reasoning.llm import AgentLLM
from api.paths.reasoning.path import ReasoningPath
from api.policy.check import check_policy_models
from api.policy.config import load_routing_policy
from api.policy.engine import PolicyEngine
from api.readiness import McpCheck, ReadinessCheck, UpstreamCheck
from api.request_record import RequestObserver, RequestRecord
from api.routing.classifier import LLMClassifier
from api.routing.decision import RoutePath, RoutingPolicy
from api.routing.decision_cache import DecisionCache
from api.routing.router import Router
from api.shared_state import SharedState, SharedStateCheck
from api.upstream.client import build_llm_client
from api.upstream.cost import load_price_table
from api.upstream.deadline import AnswerDeadline

_T = TypeVar("_T")
log = structlog.get_logger("api.services")


def routing_policy(settings: Settings) -> RoutingPolicy:
    return RoutingPolicy(
        default_mode=settings.default_routing_mode,
        reasoning_prefix=settings.reasoning_model_prefix,
        auto_prefix=settings.auto_model_prefix,
        orchestrate_prefix=settings.orchestrate_model_prefix if settings.orchestration_enabled else None,
    )


def audit_writer(settings: Settings) -> AuditWriter:
    limits = WriterLimits(
        queue_size=settings.audit_queue_size,
        batch_size=settings.audit_batch_size,
        flush_interval=settings.audit_flush_interval_seconds,
        drain_deadline=settings.audit_shutdown_drain_seconds,
    )
    store = AuditStore(settings.database_url.get_secret_value())
    journal = Journal(settings.audit_journal_dir, settings.audit_journal_max_bytes)
    return AuditWriter(store, journal, limits, migrate=settings.audit_migrate_on_start)


def client_registry(settings: Settings) -> ClientRegistry:
    """The configured clients; with REQUIRE_AUTH=true there must be at least one."""
    registry = load_registry(settings.clients_path, settings.api_tokens, environment())
    if settings.require_auth and not len(registry):
        raise ClientsConfigError(
            f"REQUIRE_AUTH is true but {settings.clients_path} lists no clients and API_TOKENS is empty: "
            "add a client, or set REQUIRE_AUTH=false for local development"
        )
    return registry


class ServiceContainer:
    """Shared services: one upstream client, the MCP manager, the router, the paths, tracing,
    metrics, the audit writer and the observers.

    `span_exporter` replaces the OTLP exporter (tests pass an in-memory one).
    """

    def __init__(self, settings: Settings, span_exporter: SpanExporter | None = None) -> None:
        self.settings = settings
        self.clients = client_registry(settings)
        key = settings.audit_hash_key
        self.prompt_hash_key = key.get_secret_value().encode() if key is not None else None
        self.tracing = Tracing(settings, span_exporter)
        self.metrics = Metrics(settings.prometheus_multiproc_dir)
        self.shared_state = SharedState.from_url(settings.shared_redis_url, listener=self.metrics)
        limits_state = self.shared_state if settings.limits_shared else SharedState(None)
        self.limits = client_limits(limits_state, settings.rate_limit_namespace)
        self.gate = ClientGate(routing_policy(settings), self.limits)
        # Read now so a malformed routing policy stops the start-up with its reason.
        self.policy = PolicyEngine(load_routing_policy(settings.routing_policy_path), routing_policy(settings))
        self.audit = audit_writer(settings)
        self.observers: list[RequestObserver] = [AccessLog(), self.metrics, self.audit]
        # Read now so a malformed config/mcp_servers.yaml stops the start-up with its reason.
        self.mcp = McpManager(
            load_mcp_config(settings.mcp_servers_config),
            connect_timeout=settings.mcp_connect_timeout_seconds,
            refresh_interval=settings.mcp_refresh_interval_seconds,
            probe=ProbeSettings(settings.mcp_probe_interval_seconds, settings.mcp_probe_timeout_seconds),
        )
        self.metrics.watch_mcp(self.mcp)
        # Read now so a malformed config/agents.yaml stops the start-up with its reason;
        # with orchestration off it is not read at all (nothing would use it).
        self.agents = AgentRegistry(
            None,
            load_agents_config(settings.orchestration_agents_config) if settings.orchestration_enabled else [],
            self.tracing,
            refresh_interval=settings.orchestration_agents_refresh_seconds,
        )
        self.metrics.watch_audit(self.audit)
        self.drain = Drain(settings.shutdown_drain_seconds)
        self._exit_stack: AsyncExitStack | None = None
        self._llm: AsyncOpenAI | None = None
        self._router: ObservedRouter | None = None
        self.paths: dict[RoutePath, ChatPath] = {}
        self.readiness_checks: dict[str, ReadinessCheck] = {}

    @property
    def llm(self) -> AsyncOpenAI:
        return _started(self._llm)

    @property
    def router(self) -> ObservedRouter:
        """The Router (the three tiers + the classifier) observed: routing span and decision metrics."""
        return _started(self._router)

    @property
    def audit_store(self) -> AuditStore:
        return self.audit.store

    async def start(self) -> None:
        # In a thread beside the rest of the start-up (a few hundredths of a second from
        # bytecode), and awaited at its end: the app's lifespan then freezes the table's
        # objects with everything else (api/main.py), instead of a full collection walking
        # them again and again.
        price_table = asyncio.create_task(asyncio.to_thread(load_price_table))
        if self.prompt_hash_key is None:
            log.warning(
                "audit_hash_unkeyed",
                hint="set AUDIT_HASH_KEY: without it a guessed prompt can be confirmed from the audit table",
            )
        async with AsyncExitStack() as stack:
            # Closed in reverse: MCP, the client, the audit queue (rows first), then the
            # spans of everything before (tracing), and last this worker's metrics files.
            stack.callback(self.metrics.close)
            self.tracing.start()
            stack.push_async_callback(self.tracing.shutdown)
            await self.audit.start()
            stack.push_async_callback(self.audit.close)
            stack.push_async_callback(self.shared_state.close)
            await self.limits.start(self.audit.store, self.clients.clients)
            stack.push_async_callback(self.limits.close)
            self._llm = build_llm_client(self.settings)
            stack.push_async_callback(self._close_llm)
            await check_policy_models(self._llm, self.policy.policy)
            await self.mcp.start()  # connects in the background; never delays start-up
            stack.push_async_callback(self.mcp.close)
            await self.agents.start()  # fetches the A2A cards in the background, like MCP
            stack.push_async_callback(self.agents.close)
            self._build(self._llm)
            await price_table
            self._exit_stack = stack.pop_all()

    def _build(self, llm: AsyncOpenAI) -> None:
        """The parts without I/O of their own, over the started clients."""
        settings = self.settings
        deadline = AnswerDeadline.from_settings(settings)
        classifier = LLMClassifier(
            llm,
            self.tracing,
            model=settings.routing_classifier_model,
            targets=settings.auto_routing_targets,
            timeout=settings.routing_classifier_timeout,
            decisions=DecisionCache(
                self.shared_state,
                namespace=settings.rate_limit_namespace,
                ttl_seconds=settings.routing_cache_ttl_seconds,
                max_entries=settings.routing_cache_size,
                # A replica waits for another's classification no longer than its own would take.
                wait_seconds=settings.routing_classifier_timeout + 0.5,
            ),
        )
        self._router = ObservedRouter(Router(routing_policy(settings), classifier), self.tracing, self.metrics)
        agent = self._reasoning_agent(AgentLLM(llm, self.tracing, deadline))
        self.paths = {
            RoutePath.PASSTHROUGH: PassthroughPath(
                llm, self.tracing, deadline, cache_deterministic=settings.llm_cache_deterministic
            ),
            RoutePath.REASONING: ReasoningPath(agent),
            RoutePath.ORCHESTRATION: self._orchestration(llm, deadline),
        }
        self.readiness_checks = {
            "upstream": UpstreamCheck(llm),
            "mcp_servers": McpCheck(self.mcp),
            "audit": AuditStoreCheck(self.audit),
            "tracing": TracingCheck(self.tracing.export_state),
            "shared_state": SharedStateCheck(self.shared_state),
        }
        if settings.orchestration_enabled:
            self.readiness_checks["agents"] = AgentsCheck(self.agents)

    def _reasoning_agent(self, llm: AgentLLM) -> ReasoningAgent:
        settings = self.settings
        return ReasoningAgent(
            llm,
            self.mcp,
            max_iterations=settings.max_reasoning_iterations,
            tool_timeout=settings.tool_timeout_seconds,
            max_tools_per_step=settings.max_tools_per_step,
            tool_result_max_chars=settings.tool_result_max_chars,
            step_format=settings.reasoning_step_format,
            tracing=self.tracing,
            metrics=self.metrics,
        )

    def _orchestration(self, llm: AsyncOpenAI, deadline: AnswerDeadline) -> ChatPath:
        """The orchestrator over the built-in `reasoning` agent, or the 501 stub while it is off."""
        settings = self.settings
        if not settings.orchestration_enabled:
            return OrchestrationStub()
        own_llm = AgentLLM(llm, self.tracing, deadline, component=ORCHESTRATOR)
        # A task's answer feeds the orchestrator's, which alone is the request's answer.
        builtin = ReasoningTaskAgent(
            self._reasoning_agent(AgentLLM(llm, self.tracing, deadline, answers_request=False))
        )
        planner = Planner(
            own_llm, max_tasks=settings.orchestration_max_tasks, plan_format=settings.reasoning_step_format
        )
        executor = Executor(
            self.tracing,
            max_parallel=settings.orchestration_max_parallel,
            task_timeout=settings.orchestration_task_timeout_seconds,
        )
        self.agents.builtin = builtin
        agents = AvailableAgents(self.agents)  # the planner sees only the agents up
        return orchestration_path(Orchestrator(own_llm, agents, planner, executor, self.tracing))

    async def close(self) -> None:
        """Close what `start` opened, each part even when an earlier one fails."""
        stack, self._exit_stack = self._exit_stack, None
        if stack is not None:
            await stack.aclose()

    async def _close_llm(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            await llm.close()


def _started(service: _T | None) -> _T:
    if service is None:
        raise RuntimeError("ServiceContainer.start() has not run: the app lifespan did not start")
    return service


# The getters are `async def` although they never await: FastAPI runs a plain `def`
# dependency in its thread pool, and two thread hops per request were the largest cost
# of a passthrough call after the upstream's own (py-spy, docs/benchmarks.md).
async def get_services(request: Request) -> ServiceContainer:
    return request.app.state.services


Services = Annotated[ServiceContainer, Depends(get_services)]


async def get_record(request: Request) -> RequestRecord:
    record = record_of(request.scope)
    if record is None:
        raise RuntimeError("RequestContextMiddleware is not installed: create the app with create_app()")
    return record


Record = Annotated[RequestRecord, Depends(get_record)]


async def get_client(request: Request) -> Client:
    client = client_of(request.scope)
    if client is None:
        raise RuntimeError("AuthMiddleware resolved no client: this route must not be public")
    return client


CurrentClient = Annotated[Client, Depends(get_client)]
