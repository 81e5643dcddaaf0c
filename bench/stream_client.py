"""Streaming load for the benchmark, run in its own process so it never shares a core's
event loop with the server it measures.

    python bench/stream_client.py ttft URL [URL ...] --token T [--token T2 ...] --model M -n 30
        sequential streams to each URL in turn (one token for all, or one per URL); prints a
        JSON list, one result per URL: time to first content chunk and inter-chunk gaps (ms).
        One process for all URLs: a Python start-up per URL was seconds of the smoke run.
    python bench/stream_client.py hold URL --token T --model M -n 500 --hold 3
        opens n streams at once, waits until every one has produced its first chunk, keeps
        them open `hold` seconds, prints JSON with how many opened (gave a content chunk)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import time

import httpx


def body(model: str) -> dict:
    return {"model": model, "stream": True, "messages": [{"role": "user", "content": "Stream a greeting, please."}]}


def is_content(line: str) -> bool:
    return line.startswith("data: ") and '"content":"' in line and '"content":""' not in line


async def one_stream(client: httpx.AsyncClient, url: str, headers: dict, model: str) -> tuple[float, list[float]]:
    started = time.perf_counter()
    stamps: list[float] = []
    async with client.stream("POST", url, json=body(model), headers=headers) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if is_content(line):
                stamps.append(time.perf_counter())
    if not stamps:
        raise RuntimeError("the stream carried no content")
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    return (stamps[0] - started) * 1000, gaps


async def ttft(url: str, headers: dict, model: str, n: int, warmup: int) -> dict:
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(warmup):
            await one_stream(client, url, headers, model)
        firsts, gaps = [], []
        for _ in range(n):
            first, between = await one_stream(client, url, headers, model)
            firsts.append(first)
            gaps.extend(between)
    return {
        "ttft_p50_ms": statistics.median(firsts),
        "ttft_p90_ms": statistics.quantiles(firsts, n=10)[-1] if len(firsts) > 1 else firsts[0],
        "gap_mean_ms": statistics.fmean(gaps) if gaps else 0.0,
        "samples": n,
    }


async def hold(url: str, headers: dict, model: str, n: int, seconds: float) -> dict:
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    opened = asyncio.Event()
    release = asyncio.Event()
    count = 0

    async def keep_open(client: httpx.AsyncClient) -> None:
        nonlocal count
        async with client.stream("POST", url, json=body(model), headers=headers) as response:
            async for line in response.aiter_lines():
                if is_content(line):
                    # Counted once, on its first content chunk (an error event is not an open
                    # stream), then held open until all are measured.
                    count += 1
                    if count == n:
                        opened.set()
                    await release.wait()
                    return

    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        tasks = [asyncio.create_task(keep_open(client)) for _ in range(n)]
        try:
            # Fewer than n may ever open (the server refuses some); report how many did.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(opened.wait(), timeout=90)
            await asyncio.sleep(seconds)
        finally:
            release.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {"opened": count}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ttft", "hold"])
    parser.add_argument("url", nargs="+", help="ttft: each in turn; hold: exactly one")
    parser.add_argument("--token", action="append", help="one for all URLs, or one per URL")
    parser.add_argument("--model", default="fake-model+chunks=20x10")
    parser.add_argument("--routing", default="")
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--hold", type=float, default=3.0)
    args = parser.parse_args()
    if args.mode == "hold" and len(args.url) > 1:
        parser.error("hold takes one URL (run one client per server)")
    tokens = args.token or ["none"]
    if len(tokens) == 1:
        tokens *= len(args.url)
    if len(tokens) != len(args.url):
        parser.error("give one --token, or one per URL")
    headers = [{"Authorization": f"Bearer {token}"} for token in tokens]
    if args.routing:
        for each in headers:
            each["X-Routing-Mode"] = args.routing
    if args.mode == "ttft":
        result: object = [
            asyncio.run(ttft(url, each, args.model, args.n, args.warmup))
            for url, each in zip(args.url, headers, strict=True)
        ]
    else:
        result = asyncio.run(hold(args.url[0], headers[0], args.model, args.n, args.hold))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
