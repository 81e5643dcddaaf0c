"""A database outage mid-load: no client connection is reset, every request is answered.

Contract section 13: "no client connection is reset or left without an answer, during the
outage or when the database comes back". The gateway runs as it is deployed (uvicorn, the
default loop, uvloop) with tracing ON to a local OTLP sink, the demo MCP server, reasoning
requests in the mix and `/health/ready` polled throughout; Postgres is real, behind a TCP
forwarder that the test closes for a few seconds in the middle of 2,000 requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import TOKEN, Gateway, launch_gateway_process
from tests.support.databases import TestDatabase, via
from tests.support.fake_upstream import FakeUpstream
from tests.support.load import LoadResult, run_load
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import ServerProcess
from tests.support.tcp_forwarder import TcpForwarder
from tests.support.waiting import until_equal

AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUESTS = 2000
CONCURRENCY = 50
OUTAGE_AFTER = 400  # complete answers before the database goes away
OUTAGE_SECONDS = 4.0


def body_for(index: int) -> dict:
    """One in four requests runs the reasoning agent (a tool call on the demo MCP server)."""
    if index % 4 == 0:
        return {"model": "reasoning/fake-model+agent=demo", "messages": [{"role": "user", "content": f"r{index}"}]}
    return {"model": "fake-model", "messages": [{"role": "user", "content": f"q{index}"}], "stream": index % 2 == 1}


@pytest.fixture(scope="module")
def otlp_sink() -> Iterator[OtlpSink]:
    with OtlpSink() as sink:
        yield sink


def start_gateway(
    fake_upstream: FakeUpstream, demo_mcp: ServerProcess, database_url: str, sink: OtlpSink, workdir: Path
) -> Gateway:
    servers = workdir / "servers.yaml"
    servers.write_text(json.dumps({"servers": [{"name": "demo", "url": demo_mcp.url + "/mcp"}]}))
    gateway = launch_gateway_process(
        fake_upstream.base_url,  # straight to the fake model: the load is the gateway's, not LiteLLM's
        f"outage-{workdir.name}",
        workdir / "gateway.log",
        workdir,
        llm_api_key="sk-fake",
        database_url=database_url,
        mcp_servers_config=servers,
        otel_exporter_otlp_endpoint=sink.url,
        audit_flush_interval_seconds=0.05,
        log_level="WARNING",
    )
    deadline = time.monotonic() + 30
    while not httpx.get(gateway.url + "/tools", headers=AUTH).json()["data"]:  # MCP connects in the background
        assert time.monotonic() < deadline, "the demo MCP server never connected"
        time.sleep(0.1)
    return gateway


async def poll_readiness(url: str, seen: Counter[str]) -> None:
    """A probe's way: a new connection each time (so the gateway's descriptors keep being reused)."""
    while True:
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                report = (await http.get(url + "/health/ready")).json()
            seen[report["components"]["audit"]["status"]] += 1
        except httpx.TransportError as exc:  # named, so a timeout under load is not taken for a reset
            seen[f"failed:{type(exc).__name__}"] += 1
        await asyncio.sleep(0.1)


async def outage(result: LoadResult, forwarder: TcpForwarder, timeline: dict[str, float]) -> None:
    """Close the database once OUTAGE_AFTER answers are in; reopen it OUTAGE_SECONDS later."""
    await until_equal(lambda: result.complete >= OUTAGE_AFTER, True)
    timeline["closed_at_answer"] = result.sent
    await asyncio.to_thread(forwarder.close)
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(forwarder.open)
    timeline["reopened_at_answer"] = result.sent


@pytest.mark.parametrize("run", [1, 2, 3])
async def test_a_database_outage_mid_load_resets_no_connection(
    run: int,
    fake_upstream: FakeUpstream,
    demo_mcp: ServerProcess,
    postgres_db: TestDatabase,
    postgres_forwarder: TcpForwarder,
    otlp_sink: OtlpSink,
    tmp_path: Path,
):
    url = via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)
    gateway = start_gateway(fake_upstream, demo_mcp, url, otlp_sink, tmp_path)
    try:
        result = LoadResult()
        readiness: Counter[str] = Counter()
        timeline: dict[str, float] = {}
        poller = asyncio.create_task(poll_readiness(gateway.url, readiness))
        taker = asyncio.create_task(outage(result, postgres_forwarder, timeline))
        started = time.monotonic()
        await run_load(
            gateway.base_url + "/chat/completions",
            body_for,
            requests=REQUESTS,
            concurrency=CONCURRENCY,
            headers=AUTH,
            result=result,
        )
        elapsed = time.monotonic() - started
        await taker  # the database is back before the rows are counted
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await until_equal(postgres_db.count, result.complete, within=45)
        rows = await postgres_db.count()
        figures = (
            f"run {run}: {result.summary()}; rows {rows}; {elapsed:.1f} s; outage {timeline}; "
            f"readiness {dict(readiness)}; span exports {otlp_sink.exports}; resets {result.reset_samples}"
        )
        print(figures)
        assert result.resets == 0, figures
        assert result.complete == result.sent == REQUESTS, figures
        assert rows == result.complete, figures
        assert readiness["down"] > 0, figures  # the outage was seen
        assert not [kind for kind in readiness if kind.startswith("failed:")], figures
    finally:
        gateway.process.stop()
