"""Pressure: more upstream calls than the pool holds, and an MCP server killed under load.

Figures are printed (pytest -s) and asserted. The gateways here talk to the fake model
straight (no LiteLLM in between): what is measured is the gateway's own behaviour.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import httpx

from tests.conftest import TOKEN, launch_gateway_process, start_demo_mcp, write_mcp_config
from tests.support.load import run_load
from tests.support.mcp import wait_for_servers

AUTH = {"Authorization": f"Bearer {TOKEN}"}
POOL = 5
CALLS = 20


def stalled(index: int) -> dict:
    return {"model": "fake-model+stall", "messages": [{"role": "user", "content": f"call {index}"}]}


async def test_a_full_pool_answers_503_overloaded_at_once_and_frees_its_slots(fake_upstream, logs_dir, tmp_path):
    gateway = launch_gateway_process(
        fake_upstream.base_url,
        "gateway-pool",
        logs_dir / "gateway-pool.log",
        tmp_path,
        llm_max_connections=POOL,
        llm_pool_timeout=0.5,
        llm_total_timeout_seconds=4,
    )
    try:

        async def readiness_while_full() -> httpx.Response:
            await asyncio.sleep(1)  # the stalled calls hold every slot by now
            async with httpx.AsyncClient(timeout=10) as http:
                return await http.get(gateway.url + "/health/ready")

        result, ready = await asyncio.gather(
            run_load(gateway.base_url + "/chat/completions", stalled, requests=CALLS, concurrency=CALLS, headers=AUTH),
            readiness_while_full(),
        )
        upstream = ready.json()["components"]["upstream"]
        fastest_refusals_ms = sorted(result.latencies_ms)[: CALLS - POOL]
        async with httpx.AsyncClient(headers=AUTH) as http:
            after = await http.post(
                gateway.base_url + "/chat/completions",
                json={"model": "fake-model", "messages": [{"role": "user", "content": "after"}]},
            )
        figures = (
            f"pool {POOL}, {CALLS} stalled calls: {result.summary()}; the {CALLS - POOL} refusals "
            f"within {max(fastest_refusals_ms):.0f} ms; /health/ready while full: {ready.status_code} "
            f"(upstream {upstream['status']}); a call after the load: {after.status_code}"
        )
        print(figures)
        assert result.resets == 0, figures
        assert result.statuses == {503: CALLS - POOL, 504: POOL}, figures  # 5 in flight until the total timeout
        assert max(fastest_refusals_ms) < 2000, figures  # the pool timeout (0.5 s), not the total (4 s)
        assert (ready.status_code, upstream["status"]) == (200, "degraded"), figures  # at capacity, not down
        assert after.status_code == 200, figures  # every slot came back
    finally:
        gateway.process.stop()


async def test_an_mcp_server_killed_under_load_fails_every_pending_call_at_once(fake_upstream, logs_dir, tmp_path):
    server = start_demo_mcp(logs_dir, "demo-pressure")
    config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": server.url + "/mcp"})
    gateway = launch_gateway_process(
        fake_upstream.base_url,
        "gateway-mcp-kill",
        logs_dir / "gateway-mcp-kill.log",
        tmp_path,
        mcp_servers_config=config,
        tool_timeout_seconds=30,
    )
    requests = 8
    try:
        wait_for_servers(gateway, {"demo": "up"})
        killed_at: list[float] = []

        async def one(http: httpx.AsyncClient, index: int) -> tuple[dict | None, float]:
            body = {
                "model": "fake-model+agent=slow_tool",
                "messages": [{"role": "user", "content": f"slow {index}"}],
                "stream": True,
            }
            headers = {**AUTH, "X-Routing-Mode": "reasoning"}
            async with http.stream("POST", gateway.base_url + "/chat/completions", json=body, headers=headers) as r:
                async for line in r.aiter_lines():
                    if not line.startswith("data: {"):
                        continue
                    event = json.loads(line[6:])["choices"][0]["delta"].get("reasoning_event") or {}
                    if event.get("type") == "tool_result":
                        return event["metadata"]["tool_results"][0], time.monotonic()
            return None, time.monotonic()

        async def kill_when_all_started() -> None:
            async with httpx.AsyncClient() as http:
                while True:
                    events = (await http.get(server.url + "/events")).json()
                    if sum(e["event"] == "started" for e in events) >= requests:
                        break
                    await asyncio.sleep(0.05)
            assert server.process is not None
            os.killpg(server.process.pid, signal.SIGKILL)
            killed_at.append(time.monotonic())

        async with httpx.AsyncClient(timeout=60) as http:
            outcomes, _ = await asyncio.gather(
                asyncio.gather(*(one(http, i) for i in range(requests)), return_exceptions=True),
                kill_when_all_started(),
            )
        resets = [o for o in outcomes if isinstance(o, BaseException)]
        answered = [o for o in outcomes if not isinstance(o, BaseException)]
        failed = [r for r, _ in answered if r is not None and not r["success"]]
        seconds = [at - killed_at[0] for _, at in answered]
        async with httpx.AsyncClient(headers=AUTH) as http:
            listing = (await http.get(gateway.url + "/tools")).json()
        figures = (
            f"{requests} pending slow_operation calls, server SIGKILLed: {len(failed)} failed tool_results, "
            f"resets {len(resets)}, slowest {max(seconds):.2f} s after the kill (tool timeout 30 s), "
            f"/tools: {[s['state'] for s in listing['servers']]}"
        )
        print(figures)
        assert not resets, figures
        assert len(failed) == requests, figures
        assert max(seconds) < 3, figures
        assert [s["state"] for s in listing["servers"]] == ["down"], figures
    finally:
        gateway.process.stop()
        server.stop()
