"""Per-client limits through real gateway processes, the real LiteLLM proxy and the openai SDK.

Each test writes its own clients file and starts its own gateways; limits live in memory
unless a test points RATE_LIMIT_STORAGE_URL at the real Redis (a key prefix of its own,
deleted afterwards) or takes that Redis away behind a forwarder. Budgets run in-process
with an injected clock, against the real audit store and the real Redis.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml

from api.audit.row import audit_row
from api.audit.store import AuditStore
from api.clients.admission import ClientLimits
from api.clients.model import Client, Limits
from api.clients.storage import client_limits
from api.errors import QuotaExceededError, RateLimitError
from api.request_record import RequestRecord
from api.shared_state import SharedState, redis_client
from tests.conftest import Gateway
from tests.support.databases import TestDatabase
from tests.support.redis_keys import TEST_REDIS_URL, redis_namespace
from tests.support.tcp_forwarder import TcpForwarder

REDIS_URL = TEST_REDIS_URL
MODEL = "fake-model"


def write_clients(tmp_path: Path, **limits: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """A clients file with one client per keyword (its limits); (overrides for launch_gateway, tokens)."""
    tokens = {name: f"tok-{name}-{uuid.uuid4().hex[:8]}" for name in limits}
    entries = [
        {"name": name, "token_env": f"{name.upper()}_TOKEN", "limits": client_limits_}
        for name, client_limits_ in limits.items()
    ]
    path = tmp_path / "clients.yaml"
    path.write_text(yaml.safe_dump({"clients": entries}))
    overrides = {"clients_config": str(path), **{f"{name}_token": token for name, token in tokens.items()}}
    return overrides, tokens


def sdk(gateway: Gateway, token: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=token, max_retries=0)


async def ask(client: openai.AsyncOpenAI, model: str = MODEL, text: str = "hi") -> bool:
    """True when admitted, False on a 429 rate_limit_exceeded."""
    try:
        await client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}])
    except openai.RateLimitError as error:
        code = error.code
    else:
        return True
    assert code == "rate_limit_exceeded"
    return False


def limits_in(url: str, prefix: str, clock: Callable[[], datetime] | None = None) -> ClientLimits:
    """The limits a gateway builds for RATE_LIMIT_STORAGE_URL=`url`, with the test's clock."""
    state = SharedState.from_url(None if url == "memory://" else url)
    return client_limits(state, prefix) if clock is None else client_limits(state, prefix, clock=clock)


async def close(limits: ClientLimits) -> None:
    await limits.close()
    await limits.state.close()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with redis_namespace("limits-test") as prefix:
        yield prefix


async def test_two_clients_are_each_held_to_their_own_numbers(
    launch_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    overrides, tokens = write_clients(tmp_path, alpha={"requests_per_minute": 5}, beta={"requests_per_minute": 12})
    gateway = launch_gateway(**overrides)
    sent = 20
    alpha, beta = sdk(gateway, tokens["alpha"]), sdk(gateway, tokens["beta"])
    results = await asyncio.gather(*(ask(c) for _ in range(sent) for c in (alpha, beta)))
    admitted = {"alpha": sum(results[0::2]), "beta": sum(results[1::2])}
    for name, limit in (("alpha", 5), ("beta", 12)):
        print(f"{name}: limit {limit}/min, sent {sent}, admitted {admitted[name]}, refused {sent - admitted[name]}")
        # The sliding window weighs the previous minute's count: crossing a minute boundary
        # mid-test may let one more through, never fewer than the limit.
        assert limit <= admitted[name] <= limit + 1


async def test_answers_carry_rate_limit_headers_and_refusals_are_openai_429s(
    launch_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    overrides, tokens = write_clients(tmp_path, gamma={"requests_per_minute": 2, "tokens_per_minute": 10_000})
    client = sdk(launch_gateway(**overrides), tokens["gamma"])
    raw = await client.chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "a" * 40}]
    )
    headers = raw.headers
    print({k: v for k, v in headers.items() if k.startswith("x-ratelimit")})
    assert headers["x-ratelimit-limit-requests"] == "2"
    assert headers["x-ratelimit-remaining-requests"] == "1"
    assert headers["x-ratelimit-limit-tokens"] == "10000"
    assert headers["x-ratelimit-remaining-tokens"] == str(10_000 - 10)  # 40 characters: an estimate of 10
    assert headers["x-ratelimit-reset-requests"].endswith("s")
    assert await ask(client)
    with pytest.raises(openai.RateLimitError) as refused:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    error = refused.value
    print(error.response.status_code, error.body, dict(error.response.headers))
    assert error.response.status_code == 429
    assert error.body["type"] == "rate_limit_error"
    assert error.code == "rate_limit_exceeded"
    assert "2 requests per minute" in error.body["message"]
    assert 1 <= int(error.response.headers["retry-after"]) <= 60
    assert error.response.headers["x-ratelimit-remaining-requests"] == "0"
    assert "x-ratelimit-reset-tokens" in error.response.headers


async def test_clients_without_limits_get_no_rate_limit_headers(
    launch_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    overrides, tokens = write_clients(tmp_path, free={})
    raw = await sdk(launch_gateway(**overrides), tokens["free"]).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "hi"}]
    )
    assert not [k for k in raw.headers if k.startswith("x-ratelimit")]


async def test_tokens_per_minute_refuse_once_the_upstream_usage_settles(
    launch_gateway: Callable[..., Gateway], tmp_path: Path
) -> None:
    overrides, tokens = write_clients(tmp_path, delta={"tokens_per_minute": 60})
    client = sdk(launch_gateway(**overrides), tokens["delta"])
    # "hi" counts as 1 token up front; the fake's answer is 80 completion tokens (+ 4 prompt).
    raw = await client.chat.completions.with_raw_response.create(
        model="fake-model+chunks=80", messages=[{"role": "user", "content": "hi"}]
    )
    usage = raw.parse().usage
    print("first: admitted with", raw.headers["x-ratelimit-remaining-tokens"], "left; usage", usage)
    assert raw.headers["x-ratelimit-remaining-tokens"] == "59"
    assert usage is not None
    assert usage.total_tokens > 60
    with pytest.raises(openai.RateLimitError) as refused:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    print("second:", refused.value.body["message"], dict(refused.value.response.headers))
    assert "60 tokens per minute" in refused.value.body["message"]
    assert refused.value.response.headers["x-ratelimit-remaining-tokens"] == "0"


@pytest.fixture(params=["memory", "redis"])
def one_slot(
    request: pytest.FixtureRequest, launch_gateway: Callable[..., Gateway], tmp_path: Path, redis_prefix: str
) -> openai.AsyncOpenAI:
    """The SDK of a client with concurrent_requests=1, on a gateway counting in memory or in Redis."""
    store = {"rate_limit_storage_url": REDIS_URL, "rate_limit_namespace": redis_prefix}
    overrides, tokens = write_clients(tmp_path, single={"concurrent_requests": 1})
    return sdk(launch_gateway(**overrides, **(store if request.param == "redis" else {})), tokens["single"])


async def test_a_held_stream_takes_the_only_slot_until_it_is_cancelled(one_slot: openai.AsyncOpenAI) -> None:
    client = one_slot
    stream = await client.chat.completions.create(
        model="fake-model+chunks=100x100", messages=[{"role": "user", "content": "hold"}], stream=True
    )
    await stream.__anext__()  # the stream is open and flowing: it holds the slot
    with pytest.raises(openai.RateLimitError) as refused:
        await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "second"}])
    retry = refused.value.response.headers["retry-after"]
    print("while streaming:", refused.value.body["message"], "retry-after", retry)
    assert "concurrent_requests" in refused.value.body["message"]
    await stream.close()  # the client goes away mid-stream
    started = time.monotonic()
    while not await ask(client):
        assert time.monotonic() - started < 5, "the cancelled stream's slot was never freed"
        await asyncio.sleep(0.05)
    print(f"slot free {time.monotonic() - started:.2f}s after the stream was cancelled")


async def test_sequential_requests_with_one_slot_all_pass(one_slot: openai.AsyncOpenAI) -> None:
    client = one_slot
    passed = 0
    for n in range(15):
        if n % 2:
            stream = await client.chat.completions.create(
                model="fake-model+chunks=3", messages=[{"role": "user", "content": f"n{n}"}], stream=True
            )
            async for _ in stream:
                pass
        else:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": f"n{n}"}])
        passed += 1
    print(f"sequential with concurrent_requests=1: {passed}/15 passed")
    assert passed == 15


async def test_two_processes_sharing_redis_enforce_one_limit_together(
    launch_gateway: Callable[..., Gateway], tmp_path: Path, redis_prefix: str
) -> None:
    overrides, tokens = write_clients(tmp_path, eta={"requests_per_minute": 10})
    shared = {"rate_limit_storage_url": REDIS_URL, "rate_limit_namespace": redis_prefix}
    workdirs = [tmp_path / f"g{i}" for i in range(2)]
    for workdir in workdirs:
        workdir.mkdir()
    gateways = [launch_gateway(cwd=workdir, **overrides, **shared) for workdir in workdirs]
    clients = [sdk(gateway, tokens["eta"]) for gateway in gateways]
    sent = 15
    # One process then the other, turn by turn: each sees the other's requests in the shared
    # window (sent all at once, the faster process on a loaded machine could take all ten).
    results = [await ask(c) for _ in range(sent) for c in clients]
    per_process = [sum(results[0::2]), sum(results[1::2])]
    print(f"limit 10/min over two processes: sent {sent} each, admitted {per_process}, total {sum(per_process)}")
    assert sum(per_process) in (10, 11)  # 11 only if the test straddles a minute boundary
    assert all(admitted > 0 for admitted in per_process)


@pytest.fixture(params=["memory", "redis"])
async def clocked_limits(request: pytest.FixtureRequest, redis_prefix: str) -> AsyncIterator[tuple[ClientLimits, list]]:
    """Client limits whose clock the test moves; (limits, [now])."""
    now = [datetime(2026, 3, 31, 23, 0, tzinfo=UTC)]
    url = REDIS_URL if request.param == "redis" else "memory://"
    limits = limits_in(url, redis_prefix, clock=lambda: now[0])
    yield limits, now
    await close(limits)


async def spend(limits: ClientLimits, client: Client, usd: float) -> None:
    record = RequestRecord(uuid.uuid4().hex, "POST", "/v1/chat/completions", prompt_chars=8)
    admission = await limits.admit(client, record)
    assert admission is not None
    record.cost_usd = usd
    await limits.finish(admission, record)


async def test_a_spent_budget_stops_the_client_until_the_next_period(
    clocked_limits: tuple[ClientLimits, list],
) -> None:
    limits, now = clocked_limits
    client = Client(f"budget-{uuid.uuid4().hex[:6]}", frozenset(), limits=Limits(budget_usd=1.0, budget_period="day"))
    await spend(limits, client, 0.6)
    await spend(limits, client, 0.5)  # admitted at 0.6 spent: the budget is checked before the call
    with pytest.raises(QuotaExceededError) as refused:
        await spend(limits, client, 0.1)
    print(refused.value.payload(), refused.value.headers)
    assert refused.value.status_code == 429
    assert refused.value.error_type == "insufficient_quota"
    assert refused.value.code == "budget_exceeded"
    assert refused.value.headers["retry-after"] == "3600"  # 23:00 → midnight UTC
    now[0] += timedelta(hours=1, seconds=1)
    await spend(limits, client, 0.1)  # a new day, a new budget


async def test_budgets_are_seeded_from_the_audit_store_at_start(database: TestDatabase, redis_prefix: str) -> None:
    store = AuditStore(database.url)
    store.open()
    await store.migrate()
    name = f"seeded-{uuid.uuid4().hex[:6]}"
    now = datetime(2026, 3, 15, 12, tzinfo=UTC)

    def row(cost: float | None, at: datetime, client: str = name) -> dict:
        record = RequestRecord(uuid.uuid4().hex, "POST", "/v1/chat/completions", created_at=at)
        record.client, record.cost_usd = client, cost
        return audit_row(record)

    await store.insert(
        [
            row(0.7, now - timedelta(days=2)),
            row(0.35, now - timedelta(hours=1)),
            row(None, now - timedelta(minutes=5)),  # unpriced: counts 0
            row(5.0, datetime(2026, 2, 28, 23, tzinfo=UTC)),  # last month
            row(9.0, now, client="someone-else"),
        ]
    )
    assert await store.spent_since(name, datetime(2026, 3, 1, tzinfo=UTC)) == pytest.approx(1.05)
    client = Client(name, frozenset(), limits=Limits(budget_usd=1.0, budget_period="month"))
    for url in ("memory://", REDIS_URL):  # each a fresh gateway start over the same store
        limits = limits_in(url, redis_prefix, clock=lambda: now)
        await limits.start(store, [client])
        with pytest.raises(QuotaExceededError):
            await spend(limits, client, 0.01)
        await close(limits)
    await store.close()


async def test_a_redis_that_goes_away_turns_the_limits_per_process_and_back(redis_prefix: str) -> None:
    # The real Redis behind a forwarder the test closes: refused connections, like a dead server.
    forwarder = TcpForwarder("127.0.0.1", 6379)
    forwarder.open()
    state = SharedState(redis_client(f"redis://127.0.0.1:{forwarder.port}/13"), retry_seconds=0.2)
    limits = client_limits(state, redis_prefix)
    limited = Client(f"limited-{uuid.uuid4().hex[:6]}", frozenset(), limits=Limits(requests_per_minute=3))

    async def admitted(count: int) -> int:
        ok = 0
        for _ in range(count):
            record = RequestRecord(uuid.uuid4().hex, "POST", "/v1/chat/completions", prompt_chars=8)
            try:
                admission = await limits.admit(limited, record)
            except RateLimitError:
                continue
            assert admission is not None
            await limits.finish(admission, record)
            ok += 1
        return ok

    try:
        shared_before = await admitted(2)  # 2 of the 3 counted in Redis
        forwarder.close()
        during = await admitted(5)  # Redis gone: this process counts on its own, from 0
        health_during = state.health()
        forwarder.open()
        await asyncio.sleep(0.3)  # past the retry time: the next call tries Redis again
        after = await admitted(5)  # Redis back: its window still holds the 2 from before
        print(
            f"limit 3/min: {shared_before} admitted with Redis, {during} of 5 while it was down "
            f"({state.fallbacks} fallbacks, ready: {health_during.status}), {after} of 5 after it came back "
            f"(ready: {state.health().status})"
        )
        assert (shared_before, during, after) == (2, 3, 1)
        assert health_during.status == "degraded"
        assert "Redis unavailable" in (health_during.detail or "")
        assert state.health().status == "ok"
        assert await limits.admit(Client("free", frozenset()), RequestRecord("x", "POST", "/")) is None
    finally:
        await close(limits)
        forwarder.stop()
