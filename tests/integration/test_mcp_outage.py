"""An MCP server that dies or goes silent in the middle of a tool call: the call fails at
once, not after TOOL_TIMEOUT_SECONDS, GET /tools and /health/ready say `down`, and the
server is reconnected when it comes back (contract sections 6 and 13).

Killed (SIGKILL), its sockets close and the session notices by itself. Frozen (SIGSTOP:
what a server whose host vanished looks like, no FIN, no RST) only the probe the gateway
sends while calls are pending notices.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable

import httpx

from tests.conftest import OPS_HEADERS, TOKEN, start_demo_mcp, write_mcp_config
from tests.support.mcp import revive, wait_for_servers
from tests.support.processes import ServerProcess

HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Routing-Mode": "reasoning"}


def kill(server: ServerProcess) -> None:
    """SIGKILL: the process gets no chance to close its connections politely."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=5)


def freeze(server: ServerProcess) -> None:
    """SIGSTOP: the connections stay open and nothing ever answers on them."""
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGSTOP)


def thaw(server: ServerProcess) -> None:
    assert server.process is not None
    os.killpg(server.process.pid, signal.SIGCONT)


def wait_for_tool_start(server: ServerProcess, tool: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = httpx.get(server.url + "/events").json()
        if any(e["tool"] == tool and e["event"] == "started" for e in events):
            return
        time.sleep(0.05)
    raise AssertionError(f"{tool} never started on {server.name}")


def failed_mid_call(gateway, server: ServerProcess, fail: Callable[[ServerProcess], None]) -> tuple[dict, float]:
    """Stream a reasoning request whose step calls `slow_operation` (30 s), `fail` the server
    once the call runs there; return the tool result and the seconds it took after that."""
    body = {
        "model": "fake-model+agent=slow_tool",
        "messages": [{"role": "user", "content": "take your time"}],
        "stream": True,
    }
    killed_at = None
    with httpx.stream("POST", gateway.base_url + "/chat/completions", json=body, headers=HEADERS, timeout=60) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            event = json.loads(line[6:])["choices"][0]["delta"].get("reasoning_event") or {}
            if event.get("type") == "tool_execution_start":
                wait_for_tool_start(server, "slow_operation")
                fail(server)
                killed_at = time.monotonic()
            if event.get("type") == "tool_result":
                assert killed_at is not None
                return event["metadata"]["tool_results"][0], time.monotonic() - killed_at
    raise AssertionError("the stream ended without a tool_result")


def test_a_server_killed_during_a_call_fails_the_call_at_once_and_is_reported_down(start_gateway, logs_dir, tmp_path):
    server = start_demo_mcp(logs_dir, "demo-killed")
    try:
        config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": server.url + "/mcp"})
        gateway = start_gateway(mcp_servers_config=config, tool_timeout_seconds=30)
        wait_for_servers(gateway, {"demo": "up"})

        result, seconds = failed_mid_call(gateway, server, kill)
        listing = httpx.get(gateway.url + "/tools", headers=HEADERS).json()
        ready = httpx.get(gateway.url + "/health/ready", headers=OPS_HEADERS).json()
        print(f"tool_result {seconds:.2f} s after the kill: {result}; /tools: {listing['servers']}")
        assert (result["tool_name"], result["success"]) == ("slow_operation", False), result
        assert seconds < 3, f"the failed call took {seconds:.2f} s after the kill (tool timeout 30 s)"
        assert "demo" in result["error"]
        assert [s["state"] for s in listing["servers"]] == ["down"], listing["servers"]
        assert listing["data"] == []
        assert ready["components"]["mcp_servers"]["status"] == "down", ready

        revived = revive(server, "demo-killed-revived")
        try:
            listing = wait_for_servers(gateway, {"demo": "up"})
            assert "slow_operation" in {t["name"] for t in listing["data"]}
        finally:
            revived.stop()
    finally:
        server.stop()


def test_a_server_frozen_during_a_call_is_found_silent_by_the_probe(start_gateway, logs_dir, tmp_path):
    server = start_demo_mcp(logs_dir, "demo-frozen")
    try:
        config = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": server.url + "/mcp"})
        gateway = start_gateway(
            mcp_servers_config=config,
            tool_timeout_seconds=30,
            mcp_probe_interval_seconds=0.5,
            mcp_probe_timeout_seconds=1,
            mcp_connect_timeout_seconds=2,
        )
        wait_for_servers(gateway, {"demo": "up"})

        result, seconds = failed_mid_call(gateway, server, freeze)
        listing = httpx.get(gateway.url + "/tools", headers=HEADERS).json()
        print(f"tool_result {seconds:.2f} s after the freeze: {result}; /tools: {listing['servers']}")
        assert (result["tool_name"], result["success"]) == ("slow_operation", False), result
        # One probe interval, then one probe timeout: 1.5 s, far from the 30 s tool timeout.
        assert seconds < 4, f"the failed call took {seconds:.2f} s after the freeze (tool timeout 30 s)"
        assert "no answer within 1 s" in result["error"]
        assert [s["state"] for s in listing["servers"]] == ["down"], listing["servers"]

        thaw(server)
        listing = wait_for_servers(gateway, {"demo": "up"})
        assert "slow_operation" in {t["name"] for t in listing["data"]}
    finally:
        thaw(server)
        server.stop()
