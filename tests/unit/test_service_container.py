"""ServiceContainer start and close: every part opened is closed, even when the start fails half-way."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from api.config import Settings
from api.dependencies import ServiceContainer


def container(tmp_path: Path) -> ServiceContainer:
    settings = Settings(
        _env_file=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/audit.db",
        audit_journal_dir=tmp_path / "audit-journal",
        llm_base_url="http://127.0.0.1:9/v1",  # never called: nothing here sends a request
        llm_api_key="sk-unused",
        require_auth=False,
        mcp_servers_config=str(write_no_servers(tmp_path)),
    )
    return ServiceContainer(settings, InMemorySpanExporter())


def write_no_servers(tmp_path: Path) -> Path:
    path = tmp_path / "mcp_servers.yaml"
    path.write_text("servers: []\n")
    return path


def spy_on_closing(services: ServiceContainer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    closed: list[str] = []
    for name, owner, attribute in [
        ("tracing", services.tracing, "shutdown"),
        ("audit", services.audit, "close"),
        ("llm", services, "_close_llm"),
        ("mcp", services.mcp, "close"),
    ]:
        original = getattr(owner, attribute)

        async def spy(original=original, name=name) -> None:
            closed.append(name)
            await original()

        monkeypatch.setattr(owner, attribute, spy)
    return closed


async def test_close_closes_every_part_in_reverse_order_of_start(tmp_path, monkeypatch):
    services = container(tmp_path)
    closed = spy_on_closing(services, monkeypatch)
    await services.start()
    assert set(services.readiness_checks) == {"upstream", "mcp_servers", "audit", "tracing", "shared_state"}
    await services.close()
    assert closed == ["mcp", "llm", "audit", "tracing"], "rows before spans, spans last"
    await services.close()  # a second close has nothing left to close
    assert closed == ["mcp", "llm", "audit", "tracing"]


async def test_a_start_that_fails_half_way_closes_what_it_had_opened(tmp_path, monkeypatch):
    services = container(tmp_path)
    closed = spy_on_closing(services, monkeypatch)

    async def refuse() -> None:
        raise RuntimeError("the MCP manager cannot start")

    monkeypatch.setattr(services.mcp, "start", refuse)
    with pytest.raises(RuntimeError, match="cannot start"):
        await services.start()
    assert closed == ["llm", "audit", "tracing"], "the parts started before the failure, and only those"
    assert services.tracing.tracer is None
    # The audit writer let go of its journal slot: the next writer on the same folder takes it.
    again = container(tmp_path)
    await again.audit.start()
    assert again.audit.journal.slot == 0
    await again.audit.close()
