"""The drain: what the gateway does between SIGTERM and its exit (contract section 13).

Once it begins, readiness answers 503 `draining` and new requests (but the probes and
`/metrics`) are refused with the same error; the requests in flight get
`SHUTDOWN_DRAIN_SECONDS` to finish. Whatever still runs then is cut: a stream ends with
the `draining` error event and `[DONE]`, a request not yet answered gets a 503 — a
client is never left with a cut connection. Only after that does uvicorn close its
connections and the lifespan write the audit queue and flush the spans.

The request-context middleware `track`s every request with a way to end it now (its
cancel scope); a stream swaps in its own (`InFlight.cut_with`), so that cutting it
leaves the request able to send the final frames.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from starlette.types import Scope

from api.errors import GatewayError, ServiceUnavailableError

log = structlog.get_logger(__name__)

#: Paths still served while draining: orchestrators and scrapers watch the shutdown on them.
#: Quick and without side effects, they are not waited for either.
SERVED_WHILE_DRAINING = frozenset({"/health", "/health/ready", "/metrics"})
#: How long cut requests get to send their last frames and close their upstreams (their
#: shielded cleanup is bounded by 2 s, api/shielded.py).
CUT_GRACE_SECONDS = 3.0


def draining_error() -> GatewayError:
    """What a request refused or cut by the shutdown gets (retryable: another instance can serve it)."""
    return ServiceUnavailableError("The gateway is shutting down; retry the request.", code="draining")


class InFlight:
    """One running request, as the drain sees it: a way to end it now."""

    __slots__ = ("_cut", "was_cut")

    def __init__(self, cut: Callable[[], None]) -> None:
        self._cut = cut
        self.was_cut = False

    def cut_with(self, cut: Callable[[], None]) -> None:
        """End the request this way from now on (a stream: its relay, not the whole request)."""
        self._cut = cut

    def cut(self) -> None:
        self.was_cut = True
        self._cut()


def in_flight_of(scope: Scope) -> InFlight | None:
    """The drain's handle on this request (None outside the request-context middleware)."""
    return scope.get("state", {}).get("in_flight")


class Drain:
    """The shutdown state of one process and the requests it is waiting for."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.draining = False
        self._running: set[InFlight] = set()
        self._idle = asyncio.Event()

    @property
    def in_flight(self) -> int:
        return len(self._running)

    def refuses(self, path: str) -> bool:
        """Whether a request arriving now on `path` is answered 503 `draining` instead of served."""
        return self.draining and path not in SERVED_WHILE_DRAINING

    def track(self, path: str, cut: Callable[[], None]) -> InFlight:
        """A request starts on `path`: the drain waits for it (probes excepted) and may `cut` it."""
        entry = InFlight(cut)
        if path not in SERVED_WHILE_DRAINING:
            self._running.add(entry)
        return entry

    def finished(self, entry: InFlight) -> None:
        self._running.discard(entry)
        if self.draining and not self._running:
            self._idle.set()

    async def run(self) -> None:
        """Drain: refuse new requests, wait for the running ones, cut what is left; idempotent."""
        if self.draining:
            return
        self.draining = True
        started = time.perf_counter()
        waiting = self.in_flight
        log.info("drain_started", in_flight=waiting, deadline_seconds=self.deadline)
        cut = 0
        if not await self._wait_idle(self.deadline):
            cut = self.in_flight
            log.warning("drain_deadline_passed", cutting=cut)
            for entry in list(self._running):
                entry.cut()
            await self._wait_idle(CUT_GRACE_SECONDS)
        log.info(
            "drain_finished",
            waited_for=waiting,
            cut=cut,
            still_running=self.in_flight,
            seconds=round(time.perf_counter() - started, 3),
        )

    async def _wait_idle(self, seconds: float) -> bool:
        if not self._running:
            return True
        self._idle.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._idle.wait()
        except TimeoutError:
            return not self._running
        return True
