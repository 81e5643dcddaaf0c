"""A limited client's admission before any upstream call, and its settling when the request ends.

    admit   budget spent?  → 429 insufficient_quota / budget_exceeded
            a free slot?   → 429 rate_limit_exceeded (concurrent_requests)
            requests/min   → 429 rate_limit_exceeded
            tokens/min     → 429 rate_limit_exceeded (the prompt's estimate, counted now)
    finish  free the slot; count the tokens the upstream used beyond the estimate;
            add the request's cost to the period's spend

Every answer of a limited client carries the `x-ratelimit-*` headers (api/clients/headers.py);
a refusal holds nothing (a slot taken before it is given back) and says `Retry-After`.
The counters are the shared ones (Redis) while they answer, else this process's
(api/shared_state.py): a Redis outage makes the limits per process, never a failed request.
The estimate is the prompt's text characters / 4, rounded up: the usual rule of thumb for
English, and only until the upstream's usage says what it really was.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from api.audit.store import AuditStore, AuditStoreUnavailable
from api.clients.budget import Ledger, period_of
from api.clients.concurrency import Slots
from api.clients.headers import WindowState, rate_limit_headers, retry_after
from api.clients.limiter import RateWindows
from api.clients.model import Client
from api.errors import GatewayError, QuotaExceededError, RateLimitError
from api.request_record import RequestRecord
from api.shared_state import SharedState
from api.shielded import close_shielded

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]
CHARS_PER_TOKEN = 4
SEED_TIMEOUT_SECONDS = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def prompt_estimate(prompt_chars: int | None) -> int:
    """Tokens counted up front for a prompt of `prompt_chars` text characters (at least 1)."""
    return max(1, math.ceil((prompt_chars or 0) / CHARS_PER_TOKEN))


@dataclass(frozen=True, slots=True)
class Counters:
    """One place the counters live: the rate windows, the concurrency slots, the budget ledger."""

    windows: RateWindows
    slots: Slots
    ledger: Ledger


@dataclass(slots=True)
class Admission:
    """What an admitted request holds until it ends: its slot, its token estimate, its headers,
    and the counters that admitted it (settled in the same ones)."""

    client: Client
    headers: dict[str, str]
    counters: Counters
    estimate: int = 0
    lease: str | None = None
    finished: bool = field(default=False)


class ClientLimits:
    """Admits and settles the requests of clients with limits; clients without pass untouched."""

    def __init__(
        self, state: SharedState, local: Counters, shared: Counters | None = None, clock: Clock = utc_now
    ) -> None:
        self.state = state
        self.local = local
        self.shared = shared
        self.clock = clock

    async def start(self, store: AuditStore, clients: list[Client]) -> None:
        """Seed the budgets from the audit store and start renewing the slots this replica holds."""
        await self.seed(store, clients)
        for counters in self._all():
            counters.slots.start()

    async def close(self) -> None:
        for counters in self._all():
            await counters.slots.close()

    async def admit(self, client: Client, record: RequestRecord) -> Admission | None:
        """The admission of `client`'s request, or the 429 that refuses it (None: no limits)."""
        if not client.limits.any:
            return None
        if self.shared is None or not self.state.usable():
            return await self._admit(client, record, self.local)
        try:
            admission = await self._admit(client, record, self.shared)
        except self.state.errors as exc:
            self.state.fall_back("limits", exc)
            return await self._admit(client, record, self.local)
        except GatewayError:  # a refusal: Redis answered
            self.state.succeeded()
            raise
        self.state.succeeded()
        return admission

    async def finish(self, admission: Admission, record: RequestRecord) -> None:
        """Free the slot, settle the tokens and count the cost; once per admission, never raising."""
        if admission.finished:
            return
        admission.finished = True
        client, limits, counters = admission.client, admission.client.limits, admission.counters
        cost = record.cost_usd if limits.budget_usd is not None else None
        if cost and counters is not self.local:
            # This process's ledger follows the spend too, so an outage starts from it, not 0.
            await self.local.ledger.add(client.name, period_of(self.clock(), limits.budget_period), cost)
        try:
            if admission.lease is not None:
                await counters.slots.release(client.name, admission.lease)
            used = settled_tokens(record)
            if limits.tokens_per_minute is not None and used is not None and used > admission.estimate:
                await counters.windows.charge(
                    client.name, "tokens", limits.tokens_per_minute, used - admission.estimate
                )
            if cost:
                await counters.ledger.add(client.name, period_of(self.clock(), limits.budget_period), cost)
        except self.state.errors as exc:  # a lease left behind expires (api/clients/concurrency.py)
            log.warning("client_limits_settle_failed", client=client.name, error=str(exc))
            self.state.fall_back("limits", exc)

    async def seed(self, store: AuditStore, clients: list[Client]) -> None:
        """Start each budget's period at what the audit store says the client spent in it.

        Bounded: a store that is down leaves the budgets at what the ledger has (Redis) or 0.
        """
        for client in clients:
            if client.limits.budget_usd is None:
                continue
            period = period_of(self.clock(), client.limits.budget_period)
            try:
                async with asyncio.timeout(SEED_TIMEOUT_SECONDS):
                    spent = await store.spent_since(client.name, period.start)
                    for counters in self._all():
                        await counters.ledger.seed(client.name, period, spent)
            except (AuditStoreUnavailable, TimeoutError, *self.state.errors) as exc:
                log.warning("budget_seed_failed", client=client.name, error=str(exc) or type(exc).__name__)

    def _all(self) -> list[Counters]:
        return [self.local] if self.shared is None else [self.local, self.shared]

    async def _admit(self, client: Client, record: RequestRecord, counters: Counters) -> Admission:
        limits, name = client.limits, client.name
        if limits.budget_usd is not None:
            await self._check_budget(client, counters)
        lease = None
        if limits.concurrent_requests is not None:
            lease = await counters.slots.acquire(name, limits.concurrent_requests)
            if lease is None:
                raise await self._refusal(
                    client,
                    counters,
                    f"Client {name!r} already has {limits.concurrent_requests} request(s) open "
                    "(concurrent_requests); retry when one ends.",
                    wait=1.0,
                )
        try:
            requests = tokens = None
            if limits.requests_per_minute is not None:
                admitted, requests = await counters.windows.hit(name, "requests", limits.requests_per_minute)
                if not admitted:
                    raise await self._refusal(
                        client,
                        counters,
                        f"Client {name!r} reached its limit of {limits.requests_per_minute} requests per minute.",
                        wait=requests.reset_seconds,
                        requests=requests,
                    )
            estimate = 0
            if limits.tokens_per_minute is not None:
                estimate = prompt_estimate(record.prompt_chars)
                admitted, tokens = await counters.windows.hit(name, "tokens", limits.tokens_per_minute, estimate)
                if not admitted:
                    raise await self._refusal(
                        client,
                        counters,
                        f"Client {name!r} reached its limit of {limits.tokens_per_minute} tokens per minute "
                        f"(this prompt counts as about {estimate}).",
                        wait=tokens.reset_seconds,
                        requests=requests,
                        tokens=tokens,
                    )
        except BaseException:
            if lease is not None:
                await close_shielded(lambda: counters.slots.release(name, lease))
            raise
        return Admission(client, rate_limit_headers(requests, tokens), counters, estimate, lease)

    async def _check_budget(self, client: Client, counters: Counters) -> None:
        limits = client.limits
        assert limits.budget_usd is not None
        now = self.clock()
        period = period_of(now, limits.budget_period)
        spent = await counters.ledger.spent(client.name, period)
        if spent >= limits.budget_usd:
            headers = await self._window_headers(client, counters)
            raise QuotaExceededError(
                f"Client {client.name!r} has spent its budget of ${limits.budget_usd:g} for this "
                f"{limits.budget_period} (${spent:.4f}); it renews at {period.end.isoformat()}.",
                headers={"retry-after": retry_after(period.seconds_left(now)), **headers},
            )

    async def _refusal(
        self,
        client: Client,
        counters: Counters,
        message: str,
        *,
        wait: float,
        requests: WindowState | None = None,
        tokens: WindowState | None = None,
    ) -> GatewayError:
        headers = await self._window_headers(client, counters, requests, tokens)
        return RateLimitError(message, headers={"retry-after": retry_after(wait), **headers})

    async def _window_headers(
        self,
        client: Client,
        counters: Counters,
        requests: WindowState | None = None,
        tokens: WindowState | None = None,
    ) -> dict[str, str]:
        """The headers of a refusal: the windows not looked at yet are read (refusals only)."""
        limits = client.limits
        if requests is None and limits.requests_per_minute is not None:
            requests = await counters.windows.state(client.name, "requests", limits.requests_per_minute)
        if tokens is None and limits.tokens_per_minute is not None:
            tokens = await counters.windows.state(client.name, "tokens", limits.tokens_per_minute)
        return rate_limit_headers(requests, tokens)


def settled_tokens(record: RequestRecord) -> int | None:
    """The tokens the upstream reported for the whole request, or None when it reported none."""
    if record.prompt_tokens is None and record.completion_tokens is None:
        return None
    return (record.prompt_tokens or 0) + (record.completion_tokens or 0)
