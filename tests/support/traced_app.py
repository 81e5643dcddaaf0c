"""A gateway served in the test process (real uvicorn, real port) with an in-memory span exporter.

The span-tree tests need the spans themselves, so the app runs here rather than in a
subprocess; everything else is real: uvicorn, HTTP, the fake upstream process it calls.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, format_trace_id

from api.config import Settings
from api.dependencies import ServiceContainer
from api.main import create_app
from tests.support.processes import free_port

TOKEN = "test-token"


@dataclass
class TracedGateway:
    url: str
    exporter: InMemorySpanExporter
    services: ServiceContainer

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    async def spans(self, trace_id: str, wait: float = 5.0) -> list[ReadableSpan]:
        """The finished spans of one trace, once its SERVER span has ended (it ends last).

        Async: the server runs on this event loop and must keep going while we wait.
        """
        deadline = time.monotonic() + wait
        while True:
            self.services.tracing.force_flush()
            found = [s for s in self.exporter.get_finished_spans() if format_trace_id(s.context.trace_id) == trace_id]
            if any(s.kind is SpanKind.SERVER for s in found) or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.02)


def traced_settings(upstream_base_url: str, **overrides: Any) -> Settings:
    """Settings of an in-process gateway; its audit store and journal get a directory of
    their own (several such gateways may run in one test process)."""
    audit_dir = Path(tempfile.mkdtemp(prefix="traced-gateway-"))
    values: dict[str, Any] = {
        "database_url": f"sqlite+aiosqlite:///{audit_dir}/audit.db",
        "audit_journal_dir": audit_dir / "journal",
        "llm_base_url": upstream_base_url,
        "llm_api_key": "sk-fake-upstream-key",
        "require_auth": True,
        "api_tokens": [TOKEN],
        "log_format": "json",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@asynccontextmanager
async def serve_traced(settings: Settings) -> AsyncIterator[TracedGateway]:
    """Serve `create_app(settings, span_exporter=...)` on a free port until the block ends."""
    exporter = InMemorySpanExporter()
    app = create_app(settings, span_exporter=exporter)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield TracedGateway(f"http://127.0.0.1:{port}", exporter, app.state.services)
    finally:
        server.should_exit = True
        await task
