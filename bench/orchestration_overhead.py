"""What the orchestrator itself costs: the gateway's CPU per orchestration request of two tasks,
beside a reasoning request and a passthrough request on the same gateway.

The gateway talks straight to the fake model (no LiteLLM between), which answers at once: the
`parallel` plan (two `reasoning` tasks, the weather in Paris and the AAPL price, each the demo
agent's two steps, one demo MCP tool call and its answer), so nothing waits on purpose. The
CPU counted is the gateway process's own (user + system, from /proc), read around each batch
of sequential streamed requests: the fake model's and the MCP server's time is theirs, not in
it. An orchestration request is eight LLM calls (the plan, three per task, the answer) and two
tool calls; a reasoning request on the task's question is three and one; a passthrough request
one. So `orchestration - 2 x reasoning` is the orchestrator's own part: its plan and answer
calls, the DAG, its events on the wire and its spans.

    python bench/orchestration_overhead.py [--quick]   alone, on a small stack of its own
    (make bench runs it on the fake model's gateway, after the streaming phase)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

REPO = Path(__file__).resolve().parents[1]

#: kind → (model, X-Routing-Mode, question): the reasoning question is the plan's first task.
KINDS = {
    "orchestration": ("fake-model+orchestrate=parallel", "orchestration", "Weather in Paris and the AAPL price?"),
    "reasoning": ("fake-model+agent=demo", "reasoning", "What is the weather in Paris?"),
    "passthrough": ("fake-model", "passthrough", "What is the weather in Paris?"),
}
LLM_CALLS = {"orchestration": 8, "reasoning": 3, "passthrough": 1}
TASKS = 2


@dataclass(frozen=True)
class Profile:
    rounds: int  # interleaved: each round runs every kind once
    requests: int  # sequential requests per kind per round
    warm: int  # unmeasured requests per kind first


FULL = Profile(rounds=3, requests=20, warm=3)
QUICK = Profile(rounds=1, requests=3, warm=1)


def profile(quick: bool) -> Profile:
    return QUICK if quick else FULL


def measure(url: str, token: str, gateway_cpu: Callable[[], float], profile: Profile) -> dict:
    """Per kind: gateway CPU ms per request (median of the rounds) and latency; then the derived
    orchestrator's own part. `gateway_cpu()` reads the gateway process's CPU seconds so far."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as client:
        for kind in KINDS:
            for _ in range(profile.warm):
                _check(kind, _ask(client, kind))
        cpu_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
        latency_ms: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for _ in range(profile.rounds):
            for kind in KINDS:
                before = gateway_cpu()
                for _ in range(profile.requests):
                    started = time.perf_counter()
                    _ask(client, kind)
                    latency_ms[kind].append((time.perf_counter() - started) * 1000)
                cpu_ms[kind].append((gateway_cpu() - before) * 1000 / profile.requests)
    kinds = {
        kind: {
            "cpu_ms_per_request": statistics.median(cpu_ms[kind]),
            "p50_ms": statistics.median(latency_ms[kind]),
            "llm_calls": LLM_CALLS[kind],
        }
        for kind in KINDS
    }
    orchestration, reasoning = kinds["orchestration"], kinds["reasoning"]
    return {
        "profile": {"rounds": profile.rounds, "requests": profile.requests},
        "kinds": kinds,
        "orchestrator_own_cpu_ms": orchestration["cpu_ms_per_request"] - TASKS * reasoning["cpu_ms_per_request"],
        "passthrough_cpu_ms": kinds["passthrough"]["cpu_ms_per_request"],
    }


def _ask(client: httpx.Client, kind: str) -> str:
    """One streamed request, read to its end; its body (the SSE text)."""
    model, mode, question = KINDS[kind]
    body = {
        "model": model,
        "messages": [{"role": "user", "content": question}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = client.post("/v1/chat/completions", json=body, headers={"X-Routing-Mode": mode})
    if response.status_code != 200 or not response.text.rstrip().endswith("data: [DONE]"):
        raise RuntimeError(f"{kind}: HTTP {response.status_code}: {response.text[:500]}")
    return response.text


def _check(kind: str, text: str) -> None:
    """The warm-up answers are what is measured: the orchestration's two tasks succeeded, and
    the reasoning agent called its tool (not an answer from nothing)."""
    chunks = [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"] for c in chunks if c.get("choices")]
    events = [d.get("orchestration_event") or d.get("reasoning_event") or {} for d in deltas]
    results = [e for e in events if e.get("type") == "task_result"]
    if kind == "orchestration" and (len(results) != TASKS or not all(r["metadata"]["success"] for r in results)):
        raise RuntimeError(f"the orchestration's tasks did not both succeed: {results}")
    if kind == "reasoning" and not any(e.get("type") == "tool_result" for e in events):
        raise RuntimeError("the reasoning request called no tool")


def markdown_section(results: dict) -> list[str]:
    """The results page's section (bench/report.py), when the run measured it."""
    run = results.get("orchestration")
    if not run:
        return []
    kinds, profile = run["kinds"], run["profile"]
    lines = [
        "",
        "### Orchestration's own cost (two parallel reasoning tasks; fake model at 0 ms, sequential streamed requests)",
        "",
        "| request | LLM calls | p50 ms | gateway CPU ms per request | per LLM call |",
        "|---|---:|---:|---:|---:|",
    ]
    for kind, row in kinds.items():
        cpu = row["cpu_ms_per_request"]
        lines.append(
            f"| {kind} | {row['llm_calls']} | {row['p50_ms']:.1f} | {cpu:.2f} | {cpu / row['llm_calls']:.2f} |"
        )
    own, passthrough = run["orchestrator_own_cpu_ms"], run["passthrough_cpu_ms"]
    # CPU time comes in clock ticks (10 ms): a smoke run's few passthrough requests can read 0.
    ratio = f"{own / passthrough:.1f}× a passthrough request" if passthrough > 0 else "passthrough too short to time"
    lines += [
        "",
        f"The orchestrator's own part (orchestration − {TASKS} × reasoning): {own:.2f} ms of gateway CPU per request, "
        f"{ratio}; it makes two LLM calls of its own (the plan, the answer). "
        f"{profile['rounds']} round(s) of {profile['requests']} requests per kind, interleaved; medians of the rounds.",
    ]
    return lines


def main() -> int:
    """This phase alone: the fake model, the demo MCP server, a sink for spans and one gateway."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few requests only: checks the harness")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from bench import run_bench  # its stack; imported here, as it imports this module

    stack = run_bench.Stack(Path(tempfile.mkdtemp(prefix="bench-orchestration-")))
    try:
        sink, fake, mcp = stack.nginx(), stack.fake_model(), stack.demo_mcp()
        config = stack.workdir / "mcp.yaml"
        config.write_text(orjson.dumps({"servers": [{"name": "demo", "url": f"{mcp.url}/mcp"}]}).decode())
        extra = {"MCP_SERVERS_CONFIG": str(config), "ORCHESTRATION_ENABLED": "true", **run_bench.tracing_env(sink)}
        gateway = stack.gateway("gateway-fake", f"{fake.url}/v1", "unused", extra)
        stack.wait_ready()
        run_bench._wait_for_tools(gateway)
        run = measure(gateway.url, run_bench.TOKEN, lambda: run_bench.cpu_seconds([gateway]), profile(args.quick))
    finally:
        stack.stop()
    print("\n".join(markdown_section({"orchestration": run})))
    print(orjson.dumps(run, option=orjson.OPT_INDENT_2).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
