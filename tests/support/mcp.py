"""Waiting for the gateway's MCP servers to reach a state (seen through its public GET /tools)."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import TOKEN
from tests.support.processes import ServerProcess


def wait_for_servers(gateway: Any, states: dict[str, str], timeout: float = 30.0) -> dict:
    """Poll GET /tools until each named MCP server is in the given state."""
    deadline = time.monotonic() + timeout
    while True:
        listing = httpx.get(gateway.url + "/tools", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        seen = {s["name"]: s["state"] for s in listing["servers"]}
        if all(seen.get(name) == state for name, state in states.items()):
            return listing
        if time.monotonic() > deadline:
            raise AssertionError(f"MCP servers never reached {states}: {listing['servers']}")
        time.sleep(0.2)


def revive(server: ServerProcess, name: str) -> ServerProcess:
    """A server that died, started again on its port with the same command (and log)."""
    return ServerProcess(name, server.command, server.port, server.log_path).start("/")
