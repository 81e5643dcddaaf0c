"""Prometheus metrics: every name of contract section 8, on the app's own registry.

Request-level metrics are recorded from the finished `RequestRecord` (`Metrics` is a
request observer); the routing hook records decisions and opens the in-flight count.
Paths and services record the rest through a small API:

    metrics.tool_call(server, tool, outcome, seconds)   # outcome: ok / error / timeout
    metrics.watch_mcp(manager)                          # read manager.statuses() at scrape time
    metrics.watch_audit(writer)                         # read writer.stats() at scrape time

`reasoning_steps` is observed from `record.reasoning_steps` when a request finishes.

Labels stay low-cardinality: route and path are the three path names (or `none` for a
request rejected before routing), status is ok / error / cancelled, reason is a contract
code, kind is prompt / completion; server and tool names come from configuration.
`gateway_upstream_fallbacks_total`, `gateway_upstream_retries_total` and
`gateway_upstream_cache_hits_total{model}` count what LiteLLM reported doing (by the model
the request asked for; the audit row's `upstream_model` says which one answered).
`gateway_cost_usd_total{client,model}` is labelled by the configured client's name and the
upstream model, and counts only priced requests (a model without a price never gets a label).

Per process by default: one uvicorn worker per container, scaled by replicas, each scraped
as its own target. With `uvicorn --workers N`, set PROMETHEUS_MULTIPROC_DIR (Settings
`prometheus_multiproc_dir`): prometheus_client then keeps every value in a memory-mapped
file of that directory (it reads the variable at import, so it must be in the process
environment, not only in `.env`), and each scrape merges the files of all workers. The
scrape-time collectors (`mcp_server_up`, `audit_*`) read live objects of one process, so
in that mode they are the answering worker's; `close()` marks the worker dead, dropping
its in-flight gauge.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

from api.request_record import RequestRecord

log = structlog.get_logger(__name__)

CHAT_PATH = "/v1/chat/completions"
UNROUTED = "none"
# LLM calls take from tens of milliseconds to minutes.
LLM_SECONDS = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300)
TTFT_SECONDS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)
# The gateway's own share: sub-millisecond to a few hundred milliseconds.
OVERHEAD_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1)
TOOL_SECONDS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STEPS = (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50)


class StatusSource(Protocol):
    """What `watch_mcp` reads: `statuses()` lists objects with `name` and `state` (no I/O)."""

    def statuses(self) -> Iterable[Any]: ...


class StatsSource(Protocol):
    """What `watch_audit` reads: `stats()` returns an object or mapping with `queue_depth`,
    `rows_written`, `rows_spilled`, `rows_dropped`, `journal_bytes` (cheap, no I/O: it runs per scrape)."""

    def stats(self) -> Any: ...


class Metrics:
    """The gateway's metrics; `render()` is the `/metrics` body."""

    def __init__(self, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = _multiprocess_ready(multiprocess_dir)
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "gateway_requests", "Chat completion requests by route and outcome", ["route", "status"], registry=r
        )
        self.duration = Histogram(
            "gateway_request_duration_seconds", "Chat request latency", ["route"], buckets=LLM_SECONDS, registry=r
        )
        self.ttft = Histogram(
            "gateway_time_to_first_token_seconds",
            "Time to the first streamed byte (streams only)",
            ["route"],
            buckets=TTFT_SECONDS,
            registry=r,
        )
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "Request latency minus time spent waiting on the upstream",
            ["route"],
            buckets=OVERHEAD_SECONDS,
            registry=r,
        )
        self.in_flight = Gauge(
            "gateway_in_flight_requests",
            "Routed chat requests not finished yet",
            ["route"],
            registry=r,
            multiprocess_mode="livesum",  # across the workers alive; ignored in a single process
        )
        self.tokens = Counter("gateway_tokens", "Tokens reported by the upstream", ["route", "kind"], registry=r)
        self.cost = Counter(
            "gateway_cost_usd", "Cost of the upstream calls in USD (priced requests)", ["client", "model"], registry=r
        )
        # What LiteLLM did (contract section 11), by the model the client asked for.
        self.fallbacks = Counter(
            "gateway_upstream_fallbacks", "Fallbacks LiteLLM made to another model", ["model"], registry=r
        )
        self.retries = Counter("gateway_upstream_retries", "Retries LiteLLM made", ["model"], registry=r)
        self.cache_hits = Counter(
            "gateway_upstream_cache_hits", "Requests LiteLLM answered from its cache", ["model"], registry=r
        )
        self.decisions = Counter("routing_decisions", "Routing decisions", ["path", "reason"], registry=r)
        self.policy_rules = Counter(
            "routing_policy",
            "Requests a routing policy rule decided (model chosen, refused or allowed)",
            ["rule"],
            registry=r,
        )
        # The shared state of the replicas (contract section 14): only present with a Redis.
        self.shared_state_up = Gauge(
            "gateway_shared_state_up",
            "1 while the shared Redis answers; 0 while limits and routing decisions are per process",
            ["store"],
            registry=r,
            multiprocess_mode="livemin",  # one worker without Redis is enough to say so
        )
        self.shared_state_fallbacks = Counter(
            "gateway_shared_state_fallbacks",
            "Redis calls that failed and were served by this process instead",
            ["feature"],
            registry=r,
        )
        self.reasoning_steps = Histogram(
            "reasoning_steps", "Reasoning steps per reasoning request", buckets=STEPS, registry=r
        )
        self.tool_calls = Counter("tool_calls", "MCP tool calls", ["server", "tool", "outcome"], registry=r)
        self.tool_duration = Histogram(
            "tool_call_duration_seconds", "MCP tool call latency", ["server"], buckets=TOOL_SECONDS, registry=r
        )
        self.mcp = McpCollector()
        r.register(self.mcp)
        self.audit = AuditCollector()
        r.register(self.audit)
        self._scraped = r if multiprocess_dir is None else _merged_registry(multiprocess_dir, self.mcp, self.audit)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}

    # ---- recording API ------------------------------------------------------------

    def _child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, kept: the label sets are few, and `labels()` validates
        and locks on every call (half of this class's cost per request)."""
        key = (metric, labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def route_decided(self, path: str, reason: str) -> None:
        """A routing decision; the request counts as in flight on `path` until it finishes."""
        self._child(self.decisions, path, reason).inc()
        self._child(self.in_flight, path).inc()

    def request_finished(self, record: RequestRecord) -> None:
        """RequestObserver: the request-level metrics of one finished chat request."""
        if record.path != CHAT_PATH:
            return
        route = record.route_path or UNROUTED
        if record.route_path is not None:
            self._child(self.in_flight, route).dec()
        self._child(self.requests, route, record.status).inc()
        latency = (record.latency_ms or 0.0) / 1000
        self._child(self.duration, route).observe(latency)
        if record.ttft_ms is not None:
            self._child(self.ttft, route).observe(record.ttft_ms / 1000)
        if record.upstream_ms is not None:
            self._child(self.overhead, route).observe(max(0.0, latency - record.upstream_ms / 1000))
        if record.prompt_tokens:
            self._child(self.tokens, route, "prompt").inc(record.prompt_tokens)
        if record.completion_tokens:
            self._child(self.tokens, route, "completion").inc(record.completion_tokens)
        if record.reasoning_steps is not None:
            self.reasoning_steps.observe(record.reasoning_steps)
        if record.cost_usd:
            self._child(self.cost, record.client or UNROUTED, record.model or UNROUTED).inc(record.cost_usd)
        if record.attempted_fallbacks:
            self._child(self.fallbacks, record.model or UNROUTED).inc(record.attempted_fallbacks)
        if record.attempted_retries:
            self._child(self.retries, record.model or UNROUTED).inc(record.attempted_retries)
        if record.cache_hit:
            self._child(self.cache_hits, record.model or UNROUTED).inc()
        if record.route_policy is not None:
            self._child(self.policy_rules, record.route_policy).inc()

    def shared_state_changed(self, up: bool) -> None:
        """SharedStateListener: the shared Redis answers again (`up`) or stopped answering."""
        self._child(self.shared_state_up, "redis").set(1.0 if up else 0.0)

    def shared_state_fallback(self, feature: str) -> None:
        """SharedStateListener: a Redis call of `feature` failed and this process served it."""
        self._child(self.shared_state_fallbacks, feature).inc()

    def tool_call(self, server: str, tool: str, outcome: str, seconds: float) -> None:
        """One MCP tool call: `outcome` is `ok`, `error` or `timeout`."""
        self._child(self.tool_calls, server, tool, outcome).inc()
        self._child(self.tool_duration, server).observe(seconds)

    def watch_mcp(self, source: StatusSource) -> None:
        """Read the MCP manager's server states at every scrape (`mcp_server_up`)."""
        self.mcp.sources.append(source)

    def watch_audit(self, source: StatsSource) -> None:
        """Read the audit writer's `stats()` at every scrape."""
        self.audit.sources.append(source)

    def render(self) -> bytes:
        return generate_latest(self._scraped)

    def close(self) -> None:
        """At worker exit: in multiprocess mode, the live gauges stop counting this process."""
        if self.multiprocess_dir is not None:
            mark_process_dead(os.getpid(), str(self.multiprocess_dir))


def _multiprocess_ready(directory: Path | None) -> Path | None:
    """The multiprocess directory, created; refuses a directory prometheus_client did not see."""
    if directory is None:
        return None
    if values.ValueClass is values.MutexValue:
        # prometheus_client picked its value class when it was imported: without the variable
        # in the environment, every worker would count alone and the merge would see nothing.
        raise RuntimeError(
            "PROMETHEUS_MULTIPROC_DIR must be set in the process environment before the gateway starts "
            "(prometheus_client reads it at import), not only in .env"
        )
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _merged_registry(directory: Path, *scrape_time: Collector) -> CollectorRegistry:
    """What a multiprocess scrape serves: every worker's files merged, plus this process's
    scrape-time collectors (live objects cannot be merged)."""
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    for collector in scrape_time:
        registry.register(collector)
    return registry


class McpCollector(Collector):
    """`mcp_server_up{server}`: 1 when the server is connected, else 0, read at scrape time
    from the MCP manager (so it can never disagree with `/tools`)."""

    def __init__(self) -> None:
        self.sources: list[StatusSource] = []

    def describe(self) -> Iterator[Metric]:
        return iter([self._family()])

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        for source in self.sources:
            for status in source.statuses():
                family.add_metric([status.name], 1.0 if status.state == "up" else 0.0)
        return iter([family])

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily("mcp_server_up", "1 when the MCP server is connected, else 0", labels=["server"])


class AuditCollector(Collector):
    """`audit_queue_depth`, `audit_rows_{written,spilled,dropped}_total`, `audit_journal_bytes`, read at scrape time.

    Zero until an audit writer is watched; a writer whose `stats()` fails is skipped
    (logged) rather than failing the scrape.
    """

    def __init__(self) -> None:
        self.sources: list[StatsSource] = []

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        totals = dict.fromkeys(("queue_depth", "rows_written", "rows_spilled", "rows_dropped", "journal_bytes"), 0.0)
        for source in self.sources:
            try:
                stats = source.stats()
            except Exception:
                log.exception("audit_stats_failed", source=type(source).__name__)
                continue
            for name in totals:
                totals[name] += float(_field(stats, name))
        return iter(self._families(**totals))

    @staticmethod
    def _families(
        queue_depth: float = 0.0,
        rows_written: float = 0.0,
        rows_spilled: float = 0.0,
        rows_dropped: float = 0.0,
        journal_bytes: float = 0.0,
    ) -> list[Metric]:
        return [
            GaugeMetricFamily("audit_queue_depth", "Audit rows waiting to be written", value=queue_depth),
            CounterMetricFamily("audit_rows_written", "Audit rows written to the store", value=rows_written),
            CounterMetricFamily("audit_rows_spilled", "Audit rows spilled to the local file", value=rows_spilled),
            CounterMetricFamily("audit_rows_dropped", "Audit rows lost (no room left, or refused)", value=rows_dropped),
            GaugeMetricFamily("audit_journal_bytes", "Size of the local audit journal files", value=journal_bytes),
        ]


def _field(stats: Any, name: str) -> Any:
    value = stats.get(name) if isinstance(stats, dict) else getattr(stats, name, 0)
    return value or 0
