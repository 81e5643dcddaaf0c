"""Learning of SIGTERM before uvicorn acts on it, so the gateway can drain first.

uvicorn's own handler (`Server.handle_exit`) only sets `should_exit`; its main loop then
closes the listening socket at once, waits for the open connections (for ever, or
`--timeout-graceful-shutdown`, then cancels them) and only then runs the lifespan
shutdown. That is too late for a drain: readiness must still answer (503 `draining`),
and open streams must be ended by the gateway, not cut by the container's SIGKILL.

So at lifespan start-up (uvicorn installs its handler before it starts the app) the
gateway puts its own handler in front of uvicorn's, for SIGTERM and SIGINT. The first
signal starts the drain; when the drain is over, the hook sets the server's
`should_exit` as uvicorn's handler would have, and uvicorn's ordinary shutdown follows
(connections closed, lifespan shutdown: audit queue, spans). The signal itself is not
handed on: uvicorn re-raises every signal it handled once it has shut down, and the
process would then die of SIGTERM (143) instead of exiting 0. A second signal goes to
uvicorn at once (Ctrl+C twice still quits without waiting).

Nothing is installed outside uvicorn's main thread or when the handler in place is not
a uvicorn server's (an app served in-process by a test, another server): there, shutdown
is whatever that host does.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from types import FrameType
from typing import Any

import structlog
import uvicorn

log = structlog.get_logger(__name__)

EXIT_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class DrainBeforeExit:
    """The handler put in front of uvicorn's: drain on the first signal, then let uvicorn exit."""

    def __init__(self, server: uvicorn.Server, previous: dict[int, Any], drain: Callable[[], Awaitable[None]]) -> None:
        self._server = server
        self._previous = previous
        self._drain = drain
        self._loop = asyncio.get_running_loop()
        self._signalled = False
        self._restored = False
        self._task: asyncio.Task[None] | None = None

    def handle(self, sig: int, frame: FrameType | None) -> None:
        if self._signalled:
            self._previous[sig](sig, frame)
            return
        self._signalled = True
        # A signal handler runs between two bytecodes of whatever the loop was doing:
        # only hand the work to the loop from here.
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if not self._restored:
            self._task = self._loop.create_task(self._drain_then_exit())

    async def _drain_then_exit(self) -> None:
        try:
            await self._drain()
        finally:
            self._server.should_exit = True

    def restore(self) -> None:
        """Put uvicorn's handlers back; a drain still running (the app stopped otherwise) is abandoned."""
        self._restored = True
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        if self._task is not None:
            self._task.cancel()


@contextlib.contextmanager
def drain_on_exit_signals(drain: Callable[[], Awaitable[None]]) -> Iterator[None]:
    """While the block runs, SIGTERM/SIGINT await `drain()` before uvicorn starts its shutdown."""
    hook = _install(drain)
    try:
        yield
    finally:
        if hook is not None:
            hook.restore()


def _install(drain: Callable[[], Awaitable[None]]) -> DrainBeforeExit | None:
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = {sig: signal.getsignal(sig) for sig in EXIT_SIGNALS}
    servers = {getattr(handler, "__self__", None) for handler in previous.values()}
    if len(servers) != 1 or not isinstance(server := servers.pop(), uvicorn.Server):
        log.debug("drain_signals_not_installed", reason="not served by uvicorn's main thread")
        return None
    hook = DrainBeforeExit(server, previous, drain)
    for sig in EXIT_SIGNALS:
        signal.signal(sig, hook.handle)
    return hook
