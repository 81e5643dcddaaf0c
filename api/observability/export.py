"""Whether span exports work: the last outcome of the exporter, for `/health/ready`.

The exporter (api/observability/otlp.py, from a child process by default) runs on the
BatchSpanProcessor's own thread, so a slow or dead collector never blocks a request:
spans queue (bounded) and are dropped when the queue is full. `MonitoredExporter`
remembers the last outcome so `/health/ready` can say `degraded` without doing any I/O
of its own.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from api.readiness import ComponentHealth


@dataclass
class ExportState:
    exported_batches: int = 0
    failed_batches: int = 0
    last_failure_at: float | None = None
    last_success_at: float | None = None


class MonitoredExporter(SpanExporter):
    """Wraps an exporter and remembers how its exports went (read by the readiness check)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner
        self.state = ExportState()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self.inner.export(spans)
        except Exception:
            # An exporter bug must not kill the processor's thread; the batch is lost.
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.state.exported_batches += 1
            self.state.last_success_at = time.time()
        else:
            self.state.failed_batches += 1
            self.state.last_failure_at = time.time()
        return result

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def export_health(state: ExportState | None) -> ComponentHealth:
    """`ok` when tracing is off or the last export worked; `degraded` when it failed."""
    if state is None:
        return ComponentHealth("ok", "tracing is off (no PHOENIX_COLLECTOR_ENDPOINT)")
    failed_last = state.last_failure_at is not None and (
        state.last_success_at is None or state.last_failure_at > state.last_success_at
    )
    if failed_last:
        return ComponentHealth("degraded", f"the last span export failed ({state.failed_batches} batches lost so far)")
    return ComponentHealth("ok")


class TracingCheck:
    """Readiness of the span exporter: never critical, `degraded` when exports fail."""

    critical = False

    def __init__(self, state: ExportState | None) -> None:
        self.state = state

    async def check(self) -> ComponentHealth:
        return export_health(self.state)
