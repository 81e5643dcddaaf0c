"""Three gateway replicas behind a real nginx, sharing one Postgres and one Redis (contract
section 14), in front of the real LiteLLM proxy and the fake model: they behave as one gateway.

nginx runs the configuration the project ships (deploy/nginx/load-balancer.conf.template)
and says in `X-Upstream-Addr` / `X-Upstream-Status` which replicas it tried for each answer.
The tests run in order on one cluster: the last one takes a replica away.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import Gateway, launch_gateway_process
from tests.integration.test_client_limits import write_clients
from tests.support.databases import TestDatabase, drop, postgres_database
from tests.support.fake_upstream import FakeUpstream
from tests.support.load import LoadResult, run_load, until_answered
from tests.support.processes import REPO, ServerProcess, free_port
from tests.support.redis_keys import TEST_REDIS_URL, redis_namespace
from tests.support.waiting import until_equal

REPLICAS = 3
LOAD_REQUESTS = 3000
RATE_LIMIT = 30  # the `limited` client's requests_per_minute
DRAIN_SECONDS = 10
BALANCER_TEMPLATE = REPO / "deploy" / "nginx" / "load-balancer.conf.template"
CLASSIFIER_MODEL = "fake-model+choose=passthrough"


@dataclass
class Cluster:
    replicas: list[Gateway]
    balancer: ServerProcess
    database: TestDatabase
    tokens: dict[str, str]

    @property
    def base_url(self) -> str:
        return self.balancer.url + "/v1"

    def headers(self, client: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[client]}"}

    def replica_of(self, addr: str) -> int:
        """Which replica nginx means by `127.0.0.1:<port>`."""
        return next(i for i, replica in enumerate(self.replicas) if addr.endswith(f":{replica.process.port}"))


def start_balancer(replicas: list[Gateway], workdir: Path, logs_dir: Path) -> ServerProcess:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.fail("nginx is not installed: run `make bench-tools` (make test does)")
    port = free_port()
    servers = "\n        ".join(
        # Once a replica refuses (503 draining, or a closed port), no request for 5 s.
        f"server 127.0.0.1:{replica.process.port} max_fails=1 fail_timeout=5s;"
        for replica in replicas
    )
    conf = Template(BALANCER_TEMPLATE.read_text()).safe_substitute(DIR=str(workdir), PORT=port, SERVERS=servers)
    assert not re.search(r"\$(DIR|PORT|SERVERS)\b", conf)
    path = workdir / "nginx.conf"
    path.write_text(conf)
    command = [nginx, "-c", str(path), "-p", str(workdir)]
    return ServerProcess("replicas-nginx", command, port, logs_dir / "replicas-nginx.log").start("/health")


@pytest.fixture(scope="module")
async def cluster(litellm: str, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Cluster]:
    database = await postgres_database()
    async with redis_namespace("replicas") as namespace:
        overrides, tokens = write_clients(
            tmp_path_factory.mktemp("replica-clients"), bulk={}, limited={"requests_per_minute": RATE_LIMIT}
        )
        settings = {
            **overrides,
            "database_url": database.url,
            "redis_url": TEST_REDIS_URL,
            "rate_limit_namespace": namespace,
            "shutdown_drain_seconds": DRAIN_SECONDS,
            "routing_classifier_model": CLASSIFIER_MODEL,
        }
        # Each replica in a directory of its own, as pods are: its journal is its own.
        replicas = [
            launch_gateway_process(
                litellm,
                f"replica-{i}",
                logs_dir / f"replica-{i}.log",
                tmp_path_factory.mktemp(f"replica-{i}"),
                **settings,
            )
            for i in range(REPLICAS)
        ]
        balancer = start_balancer(replicas, tmp_path_factory.mktemp("replicas-nginx"), logs_dir)
        try:
            yield Cluster(replicas, balancer, database, tokens)
        finally:
            balancer.stop()
            for replica in replicas:
                replica.process.stop()
            await drop(database)


def chat(text_: str, stream: bool, model: str = "fake-model") -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text_}], "stream": stream}


def requests_counted(replica: Gateway) -> float:
    """`gateway_requests_total` over every route and status, scraped from the replica itself."""
    metrics = httpx.get(replica.url + "/metrics", timeout=10).text
    return sum(float(value) for value in re.findall(r"^gateway_requests_total\{[^}]*\} (\S+)$", metrics, re.M))


async def rows_by_request_id(database: TestDatabase) -> Counter[str]:
    async with database.engine.connect() as connection:
        result = await connection.execute(text("SELECT request_id FROM audit_log"))
        return Counter(row[0] for row in result)


def answered_by(cluster: Cluster, result: LoadResult) -> Counter[int]:
    """How many answers each replica gave (the last address nginx tried answered)."""
    return Counter(cluster.replica_of(h["x-upstream-addr"].split(", ")[-1]) for h in result.answer_headers)


@pytest.mark.timeout(400)  # LiteLLM, not the gateways, sets the pace: ~60 req/s on 2 busy cores
async def test_3000_requests_through_three_replicas_leave_3000_rows_and_3000_counted(cluster: Cluster) -> None:
    tag = uuid.uuid4().hex[:8]
    before_rows = sum((await rows_by_request_id(cluster.database)).values())
    before_counted = [requests_counted(replica) for replica in cluster.replicas]
    started = time.monotonic()
    result = await run_load(
        cluster.base_url + "/chat/completions",
        lambda i: chat(f"{tag} {i}", stream=bool(i % 2)),
        requests=LOAD_REQUESTS,
        concurrency=48,
        headers=cluster.headers("bulk"),
        request_timeout=60,
    )
    elapsed = time.monotonic() - started
    ids = set(result.request_ids)
    await until_equal(
        lambda: _rows_among(cluster.database, ids), LOAD_REQUESTS, within=30
    )  # rows land shortly after answers
    rows = await rows_by_request_id(cluster.database)
    counted = [requests_counted(r) - before for r, before in zip(cluster.replicas, before_counted, strict=True)]
    spread = answered_by(cluster, result)
    figures = (
        f"{result.summary()} in {elapsed:.1f} s ({LOAD_REQUESTS / elapsed:.0f} req/s); answered per replica "
        f"{[spread[i] for i in range(REPLICAS)]}; rows {sum(rows.values()) - before_rows} for {len(ids)} request ids, "
        f"duplicates {sum(n - 1 for n in rows.values() if n > 1)}; counted per replica {counted} = {sum(counted):.0f}"
    )
    print(figures)
    assert (result.complete, result.resets) == (LOAD_REQUESTS, 0), figures
    assert len(ids) == LOAD_REQUESTS, figures  # every answer its own server-side id, across replicas
    assert (sum(rows.values()) - before_rows, max(rows.values())) == (LOAD_REQUESTS, 1), figures
    assert all(spread[i] > LOAD_REQUESTS / REPLICAS / 2 for i in range(REPLICAS)), figures
    assert sum(counted) == LOAD_REQUESTS, figures


def _exit_after(replica: Gateway, signalled: float) -> tuple[int, float]:
    """The replica's exit code and the seconds from the signal to its exit."""
    assert replica.process.process is not None
    code = replica.process.process.wait(DRAIN_SECONDS + 20)
    return code, time.monotonic() - signalled


async def _rows_among(database: TestDatabase, ids: set[str]) -> int:
    return sum(1 for request_id in await rows_by_request_id(database) if request_id in ids)


async def test_one_clients_rate_limit_holds_across_the_three_replicas_together(cluster: Cluster) -> None:
    tag = uuid.uuid4().hex[:8]
    result = await run_load(
        cluster.base_url + "/chat/completions",
        lambda i: chat(f"{tag} {i}", stream=False),
        requests=3 * RATE_LIMIT,
        concurrency=6,
        headers=cluster.headers("limited"),
    )
    by_status: dict[int, Counter[int]] = {}
    for headers in result.answer_headers:
        status = int(headers["x-upstream-status"].split(", ")[-1])
        by_status.setdefault(status, Counter())[cluster.replica_of(headers["x-upstream-addr"])] += 1
    figures = (
        f"{3 * RATE_LIMIT} requests for a client allowed {RATE_LIMIT}/min: {dict(result.statuses)}; "
        f"by replica and status { ({s: dict(c) for s, c in by_status.items()}) }; codes {dict(result.error_codes)}"
    )
    print(figures)
    assert result.statuses == Counter({200: RATE_LIMIT, 429: 2 * RATE_LIMIT}), figures
    assert result.error_codes == Counter({"rate_limit_exceeded": 2 * RATE_LIMIT}), figures
    # Every replica admitted some and refused some: the limit is the three's together.
    assert all(len(by_status[status]) == REPLICAS for status in (200, 429)), figures


async def test_the_same_auto_conversation_is_classified_once_by_the_three_replicas(
    cluster: Cluster, fake_upstream: FakeUpstream
) -> None:
    tag = f"auto-{uuid.uuid4().hex[:8]}"
    conversation = chat(f"Which path suits {tag}?", stream=False)
    # 12 at once (4 a replica) and 6 more afterwards: the first takes the lock, the rest wait or reuse.
    headers = {**cluster.headers("bulk"), "X-Routing-Mode": "auto"}
    together = await run_load(
        cluster.base_url + "/chat/completions", lambda i: conversation, requests=12, concurrency=12, headers=headers
    )
    later = await run_load(
        cluster.base_url + "/chat/completions", lambda i: conversation, requests=6, concurrency=1, headers=headers
    )
    answers = together.answer_headers + later.answer_headers
    classifications = [r for r in fake_upstream.requests_with(tag) if "choose=" in r["body"]["model"]]
    spread = Counter(cluster.replica_of(h["x-upstream-addr"]) for h in answers)
    reasons = Counter(h["x-routing-reason"] for h in answers)
    figures = (
        f"18 requests of one conversation over {dict(spread)} (replica: answers): "
        f"{len(classifications)} classification(s); reasons {dict(reasons)}"
    )
    print(figures)
    assert together.complete + later.complete == 18, figures
    assert len(spread) == REPLICAS, figures
    assert len(classifications) == 1, figures
    assert reasons == Counter({"auto_passthrough": 18}), figures


@pytest.mark.timeout(240)
async def test_a_replica_sigtermed_mid_load_drains_and_no_client_sees_an_error(cluster: Cluster) -> None:
    tag = uuid.uuid4().hex[:8]
    leaving = cluster.replicas[-1]
    requests = 900
    result = LoadResult()
    load = asyncio.create_task(
        run_load(
            cluster.base_url + "/chat/completions",
            # Streams of 4 chunks 100 ms apart and plain answers: some are in flight at SIGTERM.
            lambda i: chat(f"{tag} {i}", stream=bool(i % 2), model="fake-model+chunks=4x100"),
            requests=requests,
            concurrency=30,
            headers=cluster.headers("bulk"),
            request_timeout=60,
            result=result,
        )
    )
    await until_answered(result, requests // 4)
    leaving.process.terminate()
    signalled = time.monotonic()
    exited = asyncio.create_task(asyncio.to_thread(_exit_after, leaving, signalled))
    async with httpx.AsyncClient(timeout=5) as probe:
        ready = await probe.get(leaving.url + "/health/ready")
    ready_after = time.monotonic() - signalled
    answered_before = len(result.answer_headers)
    await asyncio.wait_for(load, 120)
    code, exited_after = await exited

    index = cluster.replicas.index(leaving)
    after = result.answer_headers[answered_before:]
    # nginx's view of every answer after the signal: the replicas it tried and what each said.
    tried_leaving = [h for h in after if any(cluster.replica_of(a) == index for a in h["x-upstream-addr"].split(", "))]
    refused = Counter(
        status
        for h in tried_leaving
        for a, status in zip(h["x-upstream-addr"].split(", "), h["x-upstream-status"].split(", "), strict=True)
        if cluster.replica_of(a) == index and status != "200"
    )
    finished_there = sum(1 for h in after if cluster.replica_of(h["x-upstream-addr"].split(", ")[-1]) == index)
    ids = set(result.request_ids)
    await until_equal(lambda: _rows_among(cluster.database, ids), len(ids), within=30)
    figures = (
        f"{result.summary()}; readiness {ready.status_code} {ready.json().get('status')} "
        f"{ready_after * 1000:.0f} ms after SIGTERM; after it: {finished_there} finished on the leaving replica, "
        f"{sum(refused.values())} refused by it and answered by another ({dict(refused)}); "
        f"exit {code} after {exited_after:.1f} s; rows for all {len(ids)} answers"
    )
    print(figures)
    assert (ready.status_code, ready.json()["status"]) == (503, "draining"), figures
    assert (result.complete, result.resets, dict(result.error_codes)) == (requests, 0, {}), figures
    assert code == 0, figures
    assert exited_after < DRAIN_SECONDS + 10, figures  # the drain ends when the last in flight does
    # nginx stopped sending to it: a refusal marks it failed for 5 s, so only a few are refused
    # in all (each then answered by another replica), however many requests follow.
    assert sum(refused.values()) <= 10, figures
