"""Spans exported from a child process reach the collector exactly as the in-process exporter
sends them, and a child that dies, hangs or is signalled costs at most one batch."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

from api.observability.export_process import ChildConfig, ProcessSpanExporter, readable_span, span_record
from api.observability.otlp import otlp_exporter
from tests.support.otlp_sink import OtlpSink
from tests.support.waiting import until_equal

RESOURCE = Resource.create({"service.name": "reasoning-agent-api", "openinference.project.name": "tests"})


def finished_spans() -> list[ReadableSpan]:
    """A parent and a child span with what the encoder has to carry: a remote parent with
    trace state, dropped attributes, events, a link, an error status, every value type."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE, span_limits=SpanLimits(max_span_attributes=6, max_events=2))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("api", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.21.0")
    remote = SpanContext(
        0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331, True, TraceFlags(1), TraceState([("phx", "1")])
    )
    link = Link(SpanContext(0x1, 0x2, False, TraceFlags(1)), {"why": "retry"})
    with tracer.start_as_current_span(
        "POST /v1/chat/completions", context=trace.set_span_in_context(trace.NonRecordingSpan(remote))
    ) as server:
        server.set_attributes({"s": "text", "i": 7, "f": 0.5, "b": True, "t": ("a", "b"), "n": (1, 2)})
        server.set_attribute("dropped", "over the limit")
        with tracer.start_as_current_span("passthrough", kind=SpanKind.CLIENT, links=[link]) as child:
            child.add_event("first", {"k": "v"})
            child.add_event("second")
            child.add_event("third: over the limit")
            child.set_status(Status(StatusCode.ERROR, "upstream failed"))
    return list(memory.get_finished_spans())


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    with OtlpSink() as running:
        yield running


@pytest.fixture
def exporter(sink: OtlpSink) -> Iterator[ProcessSpanExporter]:
    config = ChildConfig(sink.url, None, dict(RESOURCE.attributes), RESOURCE.schema_url)
    shipped = ProcessSpanExporter(config, reply_timeout=10)
    shipped.start()
    yield shipped
    shipped.shutdown()


def test_a_span_record_rebuilds_the_span_the_encoder_reads():
    spans = finished_spans()
    assert spans[1].dropped_attributes == 1
    assert spans[0].dropped_events == 1  # the limits really dropped something to carry over
    rebuilt = [readable_span(pickle.loads(pickle.dumps(span_record(span))), RESOURCE) for span in spans]
    assert encode_spans(rebuilt) == encode_spans(spans)
    assert encode_spans(rebuilt).SerializeToString(deterministic=True) == encode_spans(spans).SerializeToString(
        deterministic=True
    )


def test_the_child_sends_the_collector_what_the_in_process_exporter_sends(
    sink: OtlpSink, exporter: ProcessSpanExporter
):
    spans = finished_spans()
    in_process = otlp_exporter(sink.url, None)
    assert in_process.export(spans) is SpanExportResult.SUCCESS
    in_process.shutdown()
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    direct, shipped = sink.requests()
    assert shipped == direct
    assert [span.name for span in sink.spans()] == ["passthrough", "POST /v1/chat/completions"] * 2
    assert exporter.child_pid not in (None, os.getpid())


async def test_a_killed_child_is_started_again_for_the_next_batch(sink: OtlpSink, exporter: ProcessSpanExporter):
    first = exporter.child_pid
    assert first is not None
    os.kill(first, signal.SIGKILL)
    await until_equal(lambda: _alive(first), False)
    assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
    assert exporter.starts == 2
    assert exporter.child_pid != first
    assert sink.exports == 1


def test_a_child_that_stops_answering_costs_one_batch(sink: OtlpSink, exporter: ProcessSpanExporter):
    exporter.reply_timeout = 0.5
    stuck = exporter.child_pid
    assert stuck is not None
    os.kill(stuck, signal.SIGSTOP)
    assert exporter.export(finished_spans()) is SpanExportResult.FAILURE
    assert not _alive(stuck)  # killed, so a late answer cannot be read as the next batch's
    exporter.reply_timeout = 10  # a new child's imports take longer than half a second
    assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
    assert sink.exports == 1


def test_sigterm_and_sigint_meant_for_the_gateway_do_not_end_the_child(exporter: ProcessSpanExporter):
    assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS  # the child is up, its handlers set
    pid = exporter.child_pid
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    os.kill(pid, signal.SIGINT)
    assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
    assert exporter.child_pid == pid


def test_shutdown_sends_the_last_batch_then_the_child_exits(sink: OtlpSink, exporter: ProcessSpanExporter):
    child = exporter._child
    assert child is not None
    assert exporter.export(finished_spans()) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert child.returncode == 0
    assert sink.exports == 1
    assert exporter.export(finished_spans()) is SpanExportResult.FAILURE  # closed: nothing is started again


def test_a_collector_that_refuses_the_batch_is_a_failed_export(sink: OtlpSink):
    config = ChildConfig(sink.url + "/not-traces/v1/traces", None, dict(RESOURCE.attributes), RESOURCE.schema_url)
    shipped = ProcessSpanExporter(config, reply_timeout=10)
    try:
        assert shipped.export(finished_spans()) is SpanExportResult.FAILURE
    finally:
        shipped.shutdown()


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie not yet reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_export_process_loads_no_other_part_of_the_gateway():
    """It runs in every gateway process's shadow: the OTLP exporter alone (about 22 MB), not
    the app's modules (openai, MCP, readiness: 94 MB when it once imported them)."""
    loaded = subprocess.run(
        [sys.executable, "-c", f"import {ProcessSpanExporter.__module__}, sys; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    ours = {name for name in loaded if name == "api" or name.startswith("api.")}
    assert ours == {
        "api",
        "api.observability",
        "api.observability.export_process",
        "api.observability.logging",
        "api.observability.otlp",
    }
    assert not {"openai", "fastapi", "sqlalchemy", "mcp"} & set(loaded)
