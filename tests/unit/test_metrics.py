"""Metrics from finished request records, the recording API, and the scrape-time audit hook."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import values
from prometheus_client.parser import text_string_to_metric_families

from api.observability.metrics import Metrics
from api.request_record import RequestRecord
from tests.support.contract import CONTRACT_METRICS


def record(**fields) -> RequestRecord:
    base = {"request_id": "r", "method": "POST", "path": "/v1/chat/completions"}
    return RequestRecord(**{**base, **fields})


def value(metrics: Metrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def exposed_names(metrics: Metrics) -> set[str]:
    """Metric names as a scraper sees them (HELP/TYPE lines), counters with their `_total`."""
    text = metrics.render().decode()
    return {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")} | {
        family.name + "_total" for family in text_string_to_metric_families(text) if family.type == "counter"
    }


def test_every_contract_metric_is_exposed_from_the_start():
    names = exposed_names(Metrics())
    assert set(CONTRACT_METRICS) <= names, set(CONTRACT_METRICS) - names


def test_a_routed_request_from_decision_to_finish():
    metrics = Metrics()
    metrics.route_decided("passthrough", "default")
    assert value(metrics, "gateway_in_flight_requests", route="passthrough") == 1
    assert value(metrics, "routing_decisions_total", path="passthrough", reason="default") == 1
    metrics.request_finished(
        record(
            route_path="passthrough",
            route_reason="default",
            latency_ms=1500.0,
            upstream_ms=1497.5,
            ttft_ms=300.0,
            prompt_tokens=12,
            completion_tokens=30,
        )
    )
    assert value(metrics, "gateway_in_flight_requests", route="passthrough") == 0
    assert value(metrics, "gateway_requests_total", route="passthrough", status="ok") == 1
    assert value(metrics, "gateway_request_duration_seconds_sum", route="passthrough") == 1.5
    assert value(metrics, "gateway_time_to_first_token_seconds_sum", route="passthrough") == 0.3
    # Our own 2.5 ms, in the millisecond buckets.
    assert abs(value(metrics, "gateway_overhead_seconds_sum", route="passthrough") - 0.0025) < 1e-9
    assert value(metrics, "gateway_overhead_seconds_bucket", route="passthrough", le="0.001") == 0
    assert value(metrics, "gateway_overhead_seconds_bucket", route="passthrough", le="0.005") == 1
    assert value(metrics, "gateway_tokens_total", route="passthrough", kind="prompt") == 12
    assert value(metrics, "gateway_tokens_total", route="passthrough", kind="completion") == 30


def test_cost_is_counted_per_client_and_upstream_model_and_an_unknown_cost_adds_nothing():
    metrics = Metrics()
    for cost in (0.25, 0.5):
        metrics.request_finished(record(route_path="passthrough", client="team-a", model="gpt-4o", cost_usd=cost))
    metrics.request_finished(record(route_path="passthrough", client="team-a", model="mystery", cost_usd=None))
    metrics.request_finished(record(route_path="passthrough", client="team-b", model="gpt-4o", cost_usd=0.0))
    assert value(metrics, "gateway_cost_usd_total", client="team-a", model="gpt-4o") == 0.75
    assert value(metrics, "gateway_cost_usd_total", client="team-a", model="mystery") is None
    assert value(metrics, "gateway_cost_usd_total", client="team-b", model="gpt-4o") is None


def test_unrouted_failures_cancellations_and_other_paths():
    metrics = Metrics()
    metrics.request_finished(record(status="error", http_status=401, latency_ms=1.0))
    assert value(metrics, "gateway_requests_total", route="none", status="error") == 1
    assert value(metrics, "gateway_in_flight_requests", route="none") is None  # never went in flight
    metrics.route_decided("reasoning", "header_reasoning")
    metrics.request_finished(record(route_path="reasoning", status="cancelled", latency_ms=5.0, reasoning_steps=3))
    assert value(metrics, "gateway_requests_total", route="reasoning", status="cancelled") == 1
    assert value(metrics, "reasoning_steps_sum") == 3
    assert value(metrics, "gateway_time_to_first_token_seconds_count", route="reasoning") is None  # not a stream
    metrics.request_finished(record(path="/v1/models", latency_ms=1.0))
    metrics.request_finished(record(path="/health", latency_ms=1.0))
    assert value(metrics, "gateway_requests_total", route="none", status="ok") is None


@dataclass
class ServerState:
    name: str
    state: str


class StandInManager:
    """What `watch_mcp` reads: the MCP manager's `statuses()`."""

    def __init__(self) -> None:
        self.current = [ServerState("web", "up"), ServerState("files", "down")]

    def statuses(self) -> list[ServerState]:
        return self.current


def test_the_recording_api_for_tools_and_the_mcp_states_read_at_scrape_time():
    metrics = Metrics()
    metrics.tool_call("web", "search", "ok", 0.2)
    metrics.tool_call("web", "search", "timeout", 30.0)
    assert value(metrics, "tool_calls_total", server="web", tool="search", outcome="ok") == 1
    assert value(metrics, "tool_calls_total", server="web", tool="search", outcome="timeout") == 1
    assert value(metrics, "tool_call_duration_seconds_count", server="web") == 2
    manager = StandInManager()
    metrics.watch_mcp(manager)
    assert value(metrics, "mcp_server_up", server="web") == 1
    assert value(metrics, "mcp_server_up", server="files") == 0
    manager.current = [ServerState("web", "down"), ServerState("files", "up")]
    assert value(metrics, "mcp_server_up", server="web") == 0
    assert value(metrics, "mcp_server_up", server="files") == 1


@dataclass
class WriterStats:
    queue_depth: int
    rows_written: int
    rows_spilled: int
    rows_dropped: int = 0
    journal_bytes: int = 0


class StandInWriter:
    """What the audit writer offers: `stats()`, cheap, read at every scrape."""

    def __init__(self) -> None:
        self.current = WriterStats(0, 0, 0)

    def stats(self) -> WriterStats:
        return self.current


class BrokenWriter:
    def stats(self):
        raise RuntimeError("writer is gone")


def test_audit_stats_are_read_at_scrape_time():
    metrics = Metrics()
    assert value(metrics, "audit_queue_depth") == 0  # no writer yet: zero, still exposed
    writer = StandInWriter()
    metrics.watch_audit(writer)
    writer.current = WriterStats(queue_depth=7, rows_written=120, rows_spilled=3)
    assert value(metrics, "audit_queue_depth") == 7
    assert value(metrics, "audit_rows_written_total") == 120
    assert value(metrics, "audit_rows_spilled_total") == 3
    writer.current = WriterStats(queue_depth=0, rows_written=127, rows_spilled=3, rows_dropped=2, journal_bytes=900)
    assert value(metrics, "audit_queue_depth") == 0
    assert value(metrics, "audit_rows_written_total") == 127
    assert value(metrics, "audit_rows_dropped_total") == 2
    assert value(metrics, "audit_journal_bytes") == 900


def test_a_mapping_of_stats_works_and_a_broken_writer_never_fails_the_scrape():
    metrics = Metrics()
    metrics.watch_audit(BrokenWriter())

    class MappingWriter:
        def stats(self):
            return {"queue_depth": 2, "rows_written": 5, "rows_spilled": 0}

    metrics.watch_audit(MappingWriter())
    assert b"audit_queue_depth 2.0" in metrics.render()
    assert value(metrics, "audit_rows_written_total") == 5


def test_a_multiprocess_directory_prometheus_client_did_not_see_is_refused(tmp_path, monkeypatch):
    # As when PROMETHEUS_MULTIPROC_DIR is only in .env: the client chose in-memory values at import.
    monkeypatch.setattr(values, "ValueClass", values.MutexValue)
    with pytest.raises(RuntimeError, match="PROMETHEUS_MULTIPROC_DIR must be set in the process environment"):
        Metrics(multiprocess_dir=tmp_path / "metrics")
