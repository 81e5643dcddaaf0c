"""`uvicorn --workers 2` with PROMETHEUS_MULTIPROC_DIR: one scrape counts every worker's requests.

Contract section 13: with workers, metrics are correct per scrape. Requests go out on fresh
connections, so the kernel spreads them over both workers; the test reads each worker's own
file to show that both served some, then asserts that every scrape, whichever worker answers
it, counts all of them.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

from tests.conftest import TOKEN, Gateway, launch_gateway_process
from tests.support.fake_upstream import FakeUpstream

AUTH = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
REQUESTS = 40
SCRAPES = 8


def start_workers(fake_upstream: FakeUpstream, workdir: Path, metrics_dir: Path) -> Gateway:
    return launch_gateway_process(
        fake_upstream.base_url,
        "gateway-workers",
        workdir / "gateway.log",
        workdir,  # the workers share its journal folder, each in its own slot
        uvicorn_args=("--workers", "2"),
        llm_api_key="sk-fake",
        prometheus_multiproc_dir=metrics_dir,
    )


def requests_counted(text: str) -> float:
    """The sum of `gateway_requests_total` over its label sets in a scrape."""
    return sum(float(value) for value in re.findall(r"^gateway_requests_total\{[^}]*\} (\S+)$", text, re.M))


def per_worker_counts(metrics_dir: Path) -> list[float]:
    """`gateway_requests_total` in each worker's own counter file."""
    counts = []
    for path in sorted(metrics_dir.glob("counter_*.db")):
        families = [f for f in MultiProcessCollector.merge([str(path)]) if f.name == "gateway_requests"]
        counts.append(sum(s.value for f in families for s in f.samples if s.name.endswith("_total")))
    return counts


def test_one_scrape_counts_the_requests_of_every_worker(fake_upstream: FakeUpstream, tmp_path: Path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    gateway = start_workers(fake_upstream, tmp_path, metrics_dir)
    try:
        for index in range(REQUESTS):  # a new connection each: the two workers share them
            body = {"model": "fake-model", "messages": [{"role": "user", "content": f"w{index}"}]}
            response = httpx.post(gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
            assert response.status_code == 200, response.text
        scrapes = [
            requests_counted(httpx.get(gateway.url + "/metrics", headers={"Connection": "close"}).text)
            for _ in range(SCRAPES)
        ]
        workers = per_worker_counts(metrics_dir)
        figures = f"sent {REQUESTS}; per worker {workers}; scrapes {scrapes}"
        print(figures)
        assert len(workers) == 2, figures
        assert all(count > 0 for count in workers), figures  # both served some
        assert sum(workers) == REQUESTS, figures
        assert scrapes == [REQUESTS] * SCRAPES, figures
    finally:
        gateway.process.stop()
    assert "Traceback" not in gateway.logs(), gateway.logs()[-3000:]
