"""One MCP server, kept connected by a background task, its tool list cached.

The task owns the `mcp.Client` (its context must be entered and left in one task):
it connects, lists the tools, then re-lists them every refresh interval, which doubles
as a health check. Any failure (refused, timed out, process died, a call that lost the
connection) marks the server `down` and the task reconnects with backoff, re-listing
the tools on the way back up. Request tasks only borrow the connected client to call tools.

A server that dies with its sockets (SIGKILL on this host) fails its pending calls by
itself: the session sees the connection close. One that goes silent instead (frozen, its
host gone, a network partition: no FIN, no RST) would leave every pending call waiting for
TOOL_TIMEOUT_SECONDS, so while calls are pending the task probes the server (a tool
listing; MCP's ping is gone from the current protocol) every probe interval. A probe that
fails or gets no answer within the probe timeout marks the server `down` at once and
fails every pending call; then the usual reconnecting with backoff.
"""

from __future__ import annotations

import asyncio
import math
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import orjson
import structlog
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp_types import CONNECTION_CLOSED, CallToolResult, TextContent, Tool

from api.mcp.config import McpServerConfig

log = structlog.get_logger(__name__)

ServerState = Literal["connecting", "up", "down", "disabled"]
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 30.0
#: Longest wait to close a lost connection (a silent server may never answer the goodbye).
CLOSE_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    """What one tool call produced, as the agent and the events report it."""

    success: bool
    result: str | None
    error: str | None
    duration_ms: float
    #: True when the agent cut `result` or `error` to TOOL_RESULT_MAX_CHARS.
    truncated: bool = False


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """How a server with calls pending is checked for life (see the module docstring)."""

    interval: float
    timeout: float


class ServerConnection:
    def __init__(
        self, config: McpServerConfig, *, connect_timeout: float, refresh_interval: float, probe: ProbeSettings
    ) -> None:
        self.config = config
        self.connect_timeout = connect_timeout
        self.refresh_interval = refresh_interval
        self.probe = probe
        self.state: ServerState = "connecting" if config.enabled else "disabled"
        self.error: str | None = None
        self.tools: list[Tool] = []
        self.last_refresh: datetime | None = None
        self._client: Client | None = None
        self._broken = False
        # Wakes the watcher: a call started (probing begins) or found the connection broken.
        self._nudge = asyncio.Event()
        # One cancel scope per pending call: cancelled when the connection is known lost.
        self._pending: set[anyio.CancelScope] = set()

    @property
    def name(self) -> str:
        return self.config.name

    async def run(self) -> None:
        """Keep the server connected until cancelled (the manager's background task)."""
        delay = INITIAL_BACKOFF_SECONDS
        while True:
            was_up = False
            # The deadline covers connecting and the first listing, then closing a lost
            # connection. It wraps the whole exit stack because the client's task group
            # must nest inside any cancel scope.
            with anyio.CancelScope(deadline=anyio.current_time() + self.connect_timeout) as deadline:
                try:
                    async with AsyncExitStack() as stack:
                        client = await self._connect(stack)
                        await self._refresh(client)
                        deadline.deadline = math.inf
                        self._client, self.state, self.error, self._broken = client, "up", None, False
                        was_up, delay = True, INITIAL_BACKOFF_SECONDS
                        log.info("mcp_server_up", server=self.name, tools=len(self.tools))
                        try:
                            self.error = await self._watch(client)
                        except Exception as exc:
                            # A refresh or probe failed: the server is down (handled just below).
                            self.error = _describe(exc)
                        self._lose()  # before closing: that may wait on the silent server
                        deadline.deadline = anyio.current_time() + CLOSE_TIMEOUT_SECONDS
                except Exception as exc:
                    # Background loop: whatever went wrong, the server is down until a reconnect works.
                    if not was_up or self.state == "up":
                        self.error = _describe(exc)
                finally:
                    self._client = None
            if deadline.cancelled_caught and not was_up:
                self.error = f"no answer within {self.connect_timeout:g} s"
            self._lose()  # not on shutdown (cancelled): the calls' own requests are going too
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    def _lose(self) -> None:
        """Mark the server down now and fail every pending call (idempotent)."""
        self._client = None
        if self.state != "down":
            log.warning("mcp_server_down", server=self.name, error=self.error)
        self.state = "down"
        for scope in self._pending:
            scope.cancel()

    async def call(self, tool: str, arguments: dict[str, Any]) -> ToolOutcome:
        """Call `tool`; every failure (down, lost connection, tool error) is an outcome.

        The caller bounds the time: cancelling this call (a timeout, a client that went
        away) makes the MCP client send `notifications/cancelled` to the server.
        """
        started = time.perf_counter()

        def outcome(success: bool, result: str | None = None, error: str | None = None) -> ToolOutcome:
            return ToolOutcome(success, result, error, elapsed_ms(started))

        client = self._client
        if client is None:
            return outcome(
                False, error=f"MCP server '{self.name}' is {self.state}" + (f": {self.error}" if self.error else "")
            )
        result: CallToolResult | None = None
        with anyio.CancelScope() as pending:
            if not self._pending:
                self._nudge.set()  # the watcher probes while calls are pending
            self._pending.add(pending)
            try:
                result = await client.call_tool(tool, arguments)
            except MCPError as exc:
                if exc.code == CONNECTION_CLOSED:
                    self._break()
                    return outcome(False, error=f"connection to MCP server '{self.name}' lost: {exc.message}")
                return outcome(
                    False, error=f"MCP server '{self.name}' refused the call: {exc.message} (code {exc.code})"
                )
            except Exception as exc:
                # The MCP boundary: transports fail in transport-specific ways (httpx2, OS, anyio
                # streams). All mean the connection is gone; the watcher reconnects.
                self._break()
                return outcome(False, error=f"connection to MCP server '{self.name}' lost: {_describe(exc)}")
            finally:
                self._pending.discard(pending)
        if result is None:  # cancelled by `_lose`: the server stopped answering
            return outcome(False, error=f"connection to MCP server '{self.name}' lost: {self.error}")
        text = render_result(result)
        return outcome(False, error=text or "the tool reported an error") if result.is_error else outcome(True, text)

    async def _connect(self, stack: AsyncExitStack) -> Client:
        config = self.config
        if config.url is not None:
            http = await stack.enter_async_context(create_mcp_http_client(headers=config.headers or None))
            target: Any = streamable_http_client(config.url, http_client=http)
        else:
            target = StdioServerParameters(
                command=config.command or "", args=config.args, env=config.env or None, cwd=config.cwd
            )
        return await stack.enter_async_context(Client(target))

    async def _refresh(self, client: Client) -> None:
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            tools.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        self.tools, self.last_refresh = tools, datetime.now(UTC)

    def _break(self) -> None:
        self._broken = True
        self._nudge.set()

    async def _watch(self, client: Client) -> str:
        """Return why, when the connection is known broken or silent; raise when a listing fails.

        Idle, it re-lists the tools every refresh interval; with calls pending, every probe
        interval too (a listing that must answer within the probe timeout).
        """
        next_refresh = anyio.current_time() + self.refresh_interval
        while True:
            probing = bool(self._pending)
            wait = self.probe.interval if probing else next_refresh - anyio.current_time()
            with anyio.move_on_after(max(wait, 0)):
                await self._nudge.wait()
            self._nudge.clear()
            if self._broken:
                return "the connection was lost"
            due = anyio.current_time() >= next_refresh
            if due or (probing and self._pending):
                limit = self.connect_timeout if due else self.probe.timeout
                # No context is entered here, so this scope nests cleanly.
                with anyio.move_on_after(limit) as listing:
                    await self._refresh(client)
                if listing.cancelled_caught:
                    return f"no answer within {limit:g} s"
                next_refresh = anyio.current_time() + self.refresh_interval


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started` (a perf_counter value), to 0.1 ms."""
    return round((time.perf_counter() - started) * 1000, 1)


def render_result(result: CallToolResult) -> str:
    """A tool result as text for the model: structured content as JSON, else the text parts."""
    if result.structured_content is not None:
        return orjson.dumps(result.structured_content).decode()
    parts = [block.text if isinstance(block, TextContent) else f"[{block.type} content]" for block in result.content]
    return "\n".join(parts)


def _describe(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
