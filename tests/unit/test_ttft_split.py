"""bench/ttft_split.py and bench/asgi_hop.py, the tools behind docs/benchmarks.md's split of a
hop's time to first token: the stamps the upstream writes come back through a hop intact, and
every stream is split into a before and an after part that add up to at most its TTFT."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from bench.ttft_split import FIRST_CHUNK_DELAY_SECONDS, measure, serve, stamps_of
from tests.support.processes import ServerProcess, free_port


def test_only_a_stamped_chunk_reads_as_stamps() -> None:
    assert stamps_of("12.5 12.75") == (12.5, 12.75)
    assert stamps_of(" and") is None
    assert stamps_of("") is None


@pytest.mark.parametrize("client", ["aiohttp", "sdk"])
async def test_a_hop_forwards_the_stamps_and_each_stream_splits_in_two(tmp_path: Path, client: str) -> None:
    upstream_port = free_port()
    upstream = asyncio.create_task(serve(upstream_port))
    port = free_port()
    hop = ServerProcess(
        f"asgi-hop-{client}",
        [sys.executable, "-m", "uvicorn", "--factory", "bench.asgi_hop:create_app", "--port", str(port)],
        port,
        tmp_path / "hop.log",
        env={"ASGI_HOP_UPSTREAM": f"http://127.0.0.1:{upstream_port}/v1", "ASGI_HOP_CLIENT": client},
    )
    try:
        await asyncio.to_thread(hop.start, "/")
        direct = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
        results = await measure([direct, f"{hop.url}/v1/chat/completions"], "unused", n=3, warmup=1)
    finally:
        hop.stop()
        upstream.cancel()
    assert [row["samples"] for row in results] == [3, 3]
    for row in results:
        assert row["before_ms"] > 0
        assert row["after_ms"] > 0
        assert row["ttft_ms"] >= FIRST_CHUNK_DELAY_SECONDS * 1000
        assert row["before_ms"] + row["after_ms"] <= row["ttft_ms"]
