"""The state replicas share (contract section 14), against the real Redis.

The classifier's decision cache: two caches over one Redis stand for two replicas; the
classification they share is counted by the test's own classifier. A gateway whose Redis
goes away (a forwarder the test closes) keeps answering, says `degraded`, counts the
fallbacks, and shares again once Redis is back.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from api.routing.decision import RoutePath
from api.routing.decision_cache import DecisionCache
from api.shared_state import SharedState, redis_client
from tests.conftest import OPS_HEADERS, Gateway
from tests.integration.test_client_limits import write_clients
from tests.support.redis_keys import TEST_REDIS_URL, redis_namespace
from tests.support.tcp_forwarder import TcpForwarder

REDIS_URL = TEST_REDIS_URL


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    async with redis_namespace("shared-test") as prefix:
        yield prefix


@pytest.fixture
def redis_forwarder() -> Iterator[TcpForwarder]:
    forwarder = TcpForwarder("127.0.0.1", 6379)
    forwarder.open()
    yield forwarder
    forwarder.stop()


def replica_cache(url: str | None, namespace: str, wait_seconds: float = 2.0) -> DecisionCache:
    state = SharedState(redis_client(url) if url else None, retry_seconds=0.2)
    return DecisionCache(state, namespace=namespace, ttl_seconds=60, max_entries=100, wait_seconds=wait_seconds)


class CountingClassifier:
    """A classifier that takes `seconds` and answers `path`; counts its calls."""

    def __init__(self, path: RoutePath | None, seconds: float = 0.2) -> None:
        self.path, self.seconds, self.calls = path, seconds, 0

    async def __call__(self) -> RoutePath | None:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        return self.path


async def test_one_conversation_is_classified_once_by_two_replicas_asking_together(namespace: str) -> None:
    replicas = [replica_cache(REDIS_URL, namespace), replica_cache(REDIS_URL, namespace)]
    classify = CountingClassifier(RoutePath.REASONING)
    key = uuid.uuid4().hex
    # 10 identical conversations at once on each replica, then 5 more on each afterwards.
    together = await asyncio.gather(*(replicas[i % 2].decide(key, classify) for i in range(20)))
    later = [await replicas[i % 2].decide(key, classify) for i in range(10)]
    print(f"30 decisions over 2 replicas: {classify.calls} classification(s), paths {set(together + later)}")
    assert classify.calls == 1
    assert set(together + later) == {RoutePath.REASONING}
    for cache in replicas:
        await cache.state.close()


async def test_a_classifier_that_falls_back_is_not_kept_and_waiters_ask_themselves(namespace: str) -> None:
    replicas = [replica_cache(REDIS_URL, namespace), replica_cache(REDIS_URL, namespace)]
    failing = CountingClassifier(None)
    key = uuid.uuid4().hex
    first, second = await asyncio.gather(replicas[0].decide(key, failing), replicas[1].decide(key, failing))
    assert (first, second) == (None, None)
    assert failing.calls == 2  # the waiter saw the lock go without a decision and asked itself
    working = CountingClassifier(RoutePath.PASSTHROUGH)
    assert await replicas[1].decide(key, working) is RoutePath.PASSTHROUGH  # nothing stale was kept
    assert working.calls == 1
    for cache in replicas:
        await cache.state.close()


async def test_without_redis_each_replica_decides_alone_and_keeps_its_decision(
    namespace: str, redis_forwarder: TcpForwarder
) -> None:
    url = f"redis://127.0.0.1:{redis_forwarder.port}/13"
    replicas = [replica_cache(url, namespace), replica_cache(url, namespace)]
    redis_forwarder.close()
    classify = CountingClassifier(RoutePath.REASONING)
    key = uuid.uuid4().hex
    paths = [await replicas[i % 2].decide(key, classify) for i in range(6)]
    health = replicas[0].state.health()
    print(f"Redis down: {classify.calls} classifications for 6 decisions on 2 replicas; ready: {health.status}")
    assert paths == [RoutePath.REASONING] * 6
    assert classify.calls == 2  # one per replica, then each keeps its own
    assert health.status == "degraded"
    for cache in replicas:
        await cache.state.close()


async def test_a_gateway_whose_redis_goes_away_keeps_answering_and_says_degraded(
    launch_gateway: Callable[..., Gateway], tmp_path: Path, namespace: str, redis_forwarder: TcpForwarder
) -> None:
    overrides, tokens = write_clients(tmp_path, limited={"requests_per_minute": 1000})
    token = tokens["limited"]
    gateway = launch_gateway(
        redis_url=f"redis://127.0.0.1:{redis_forwarder.port}/13", rate_limit_namespace=namespace, **overrides
    )
    sdk = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=token, max_retries=0)
    message = [{"role": "user", "content": "hello"}]

    async def ready_and_metrics(http: httpx.AsyncClient) -> tuple[dict, str]:
        ready = (await http.get("/health/ready", headers=OPS_HEADERS)).json()
        metrics = (await http.get("/metrics", headers=OPS_HEADERS)).text
        return ready["components"]["shared_state"], metrics

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        await sdk.chat.completions.create(model="fake-model", messages=message)
        before, _ = await ready_and_metrics(http)
        redis_forwarder.close()
        statuses = []
        for _ in range(10):
            raw = await sdk.chat.completions.with_raw_response.create(model="fake-model", messages=message)
            statuses.append((raw.http_response.status_code, raw.headers.get("x-ratelimit-limit-requests")))
        during, metrics_during = await ready_and_metrics(http)
        redis_forwarder.open()
        await asyncio.sleep(5.5)  # the gateway's retry time (api/shared_state.py RETRY_SECONDS)
        await sdk.chat.completions.create(model="fake-model", messages=message)
        after, metrics_after = await ready_and_metrics(http)
    print(f"shared_state: {before} → {during} → {after}; answers while Redis was down: {statuses}")
    assert before["status"] == "ok"
    assert statuses == [(200, "1000")] * 10  # limited per process, never refused for Redis
    assert during["status"] == "degraded"
    assert 'gateway_shared_state_up{store="redis"} 0.0' in metrics_during
    assert 'gateway_shared_state_fallbacks_total{feature="limits"}' in metrics_during
    assert after["status"] == "ok"
    assert 'gateway_shared_state_up{store="redis"} 1.0' in metrics_after
