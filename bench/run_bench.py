"""`make bench`: what the gateway costs, side by side with the alternatives, in one run.

Everything runs on loopback and is started and stopped here:

  nginx (static upstream, never the bottleneck)   fake model (paced streams, fixed latency, agent)
  LiteLLM proxy (1 worker)                        demo MCP server
  our gateway (1 worker, full features)           the bare hop (bench/bare_hop.py, no features)

Configurations, measured interleaved (each round visits every one) so machine drift hits all alike:

  1 direct        → upstream                       (the floor)
  2 gateway       → upstream                       (passthrough)
  2m / 2r         the same with a limited client, limits in memory / in Redis (middle concurrency only)
  3 litellm       → upstream
  4 gateway       → LiteLLM → upstream             (the real deployment)
  4h / 4m         the same with LiteLLM's Redis response cache on: every request a hit / a miss
  5 reasoning     gateway, scripted two-step agent + one MCP tool call (its own cost per request)
  6 bare hop      → upstream
  7w1 / 7w2       gateway → upstream, `--workers 1` / `--workers 2` (highest concurrency only)
  8 portkey       Portkey's open-source gateway (Node, .tools/portkey) → upstream, by its headers

the orchestrator's own CPU per request on the fake model's gateway (bench/orchestration_overhead.py),
and, once the servers are stopped, the audit rows per second one Postgres takes (bench/audit_rate.py).

    python bench/run_bench.py            full run (under 10 minutes on 2 cores), writes docs/benchmarks.*
    python bench/run_bench.py --quick    smoke run (about two minutes), writes to a temp dir only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import urlsplit

import httpx
import redis
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import orchestration_overhead  # noqa: E402
from bench.audit_rate import measure as measure_audit_rate  # noqa: E402
from bench.report import write_report  # noqa: E402
from tests.support.processes import ServerProcess, free_port  # noqa: E402

TOKEN = "bench-token"
LIMITED_TOKEN = "bench-limited-token"
#: The limited gateways' Redis (the machine's own); keys under a per-run prefix, deleted after.
BENCH_REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
#: LiteLLM's response cache: a database of its own (13 is the tests'), keys under a per-run
#: namespace, deleted before the run (a stale entry would turn a miss into a hit) and after.
BENCH_CACHE_REDIS_URL = os.environ.get("BENCH_CACHE_REDIS_URL", "redis://127.0.0.1:6379/15")
MASTER_KEY = "sk-bench-master-key"
#: Replicas' audit writers inserting at once into the one Postgres (each one batch in flight).
AUDIT_WRITERS = 4
LITELLM_BIN = Path(os.environ.get("LITELLM_BIN", REPO / ".tools" / "litellm" / "bin" / "litellm"))
#: Our servers (the gateway, the bare hop) run on the runtime dependencies alone, as the image
#: installs them (`make install-deployed`): the dev group's packages change what they load
#: (structlog imports rich when it is there, about 10 MB in each gateway process).
SERVER_PYTHON = Path(os.environ.get("BENCH_SERVER_PYTHON", REPO / ".tools" / "deployed" / "bin" / "python"))
#: Portkey's gateway as `make install-portkey` puts it (bench/portkey/package-lock.json pins it).
PORTKEY_DIR = Path(os.environ.get("PORTKEY_DIR", REPO / ".tools" / "portkey"))
PORTKEY_PACKAGE = PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway"
#: The cache scenarios' body: deterministic (temperature 0), so the gateway asks LiteLLM's
#: cache for it (api/upstream/cache_policy.py). The miss scenario's `{n}` is replaced per
#: request by bench/wrk_chat.lua, and {run} per wrk run here, so no request repeats another.
CACHE_PROMPT = "Say hello to the benchmark, briefly and kindly."
MISS_PROMPT = CACHE_PROMPT + " ({run}-{n})"
COMPLETION = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "bench-model",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello, benchmark!"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 24, "completion_tokens": 4, "total_tokens": 28},
}


@dataclass
class Profile:
    rounds: int
    seconds: float
    concurrency: tuple[int, ...]
    stream_samples: int
    open_streams: int
    out_dir: Path
    hold_seconds: float = 2.0  # how long the open streams are held for the memory reading
    warm_requests: int = 20  # per configuration before measuring: LiteLLM's first answers are slow
    stream_warmup: int = 3  # unmeasured streams per configuration before the measured ones
    audit_seconds: float = 10.0  # of batch inserts into Postgres, once the servers are stopped


@dataclass
class Target:
    """One configuration under load: where to send requests, which processes to charge."""

    key: str
    label: str
    url: str  # the chat completions URL
    processes: list[ServerProcess] = field(default_factory=list)
    model: str = "bench-model"
    routing: str = ""
    token: str = TOKEN
    body: dict | None = None  # instead of wrk_chat.lua's default; "{n}" in it: unique per request
    cache: str = ""  # "hit" / "miss": what every answer must be, checked on the gateway's metrics
    redis: str = ""  # the Redis its servers use (URL): its CPU per request is measured too
    headers: dict[str, str] = field(default_factory=dict)  # extra request headers (Portkey's routing)

    def body_json(self, run: str) -> str:
        """The body for one wrk run (or one warm-up request): `{run}` made unique to it."""
        return json.dumps(self.body, separators=(",", ":")).replace("{run}", run)


# ---- the stack ---------------------------------------------------------------------------

#: What the measured servers call: stopped after them.
UPSTREAMS = frozenset({"nginx", "fake-model", "demo-mcp"})


class Stack:
    """The servers of a run. They are launched at once and waited for together
    (`wait_ready`): started one by one, they took most of a quick run."""

    def __init__(self, workdir: Path) -> None:
        if not SERVER_PYTHON.exists():
            raise SystemExit(f"{SERVER_PYTHON} is missing: run `make install-deployed` (the bench targets do)")
        self.workdir = workdir
        self.processes: list[ServerProcess] = []
        self._booting: list[tuple[ServerProcess, str]] = []
        self.redis_prefix = f"bench-{os.getpid()}"
        self.cache_namespace = f"{self.redis_prefix}-litellm-cache"
        forget_redis_keys(BENCH_CACHE_REDIS_URL, f"{self.cache_namespace}:*")

    def start(
        self, name: str, command: list[str], ready: str, env: dict[str, str | None] | None = None, **kw: object
    ) -> ServerProcess:
        port = kw.pop("port", None) or free_port()
        command = [part.replace("{port}", str(port)) for part in command]
        process = ServerProcess(
            name, command, int(port), self.workdir / f"{name}.log", env=env or {}, cwd=kw.get("cwd", REPO)
        )  # type: ignore[arg-type]
        self.processes.append(process.launch())
        self._booting.append((process, ready))
        return process

    def wait_ready(self) -> None:
        """Wait until every launched server answers its readiness path."""
        while self._booting:
            process, ready = self._booting.pop(0)
            process.wait_ready(ready, timeout=180)

    def stop(self) -> None:
        # The servers first, then what they call (nginx is also the span sink: stopped first,
        # it left each gateway retrying its last span export for seconds). In each wave,
        # SIGTERM to all before waiting, so graceful shutdowns overlap instead of queueing.
        upstreams = [p for p in self.processes if p.name in UPSTREAMS]
        for wave in ([p for p in self.processes if p not in upstreams], upstreams):
            for process in wave:
                process.terminate()
            for process in wave:
                process.stop()
        forget_redis_keys(BENCH_REDIS_URL, f"{self.redis_prefix}:*")
        forget_redis_keys(BENCH_CACHE_REDIS_URL, f"{self.cache_namespace}:*")

    def cache_params(self) -> dict[str, Any]:
        """LiteLLM's `cache_params`: as config/litellm_config.yaml's commented block, on the bench's Redis."""
        url = urlsplit(BENCH_CACHE_REDIS_URL)
        return {
            "type": "redis",
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 6379,
            "db": int(url.path.strip("/") or 0),
            "namespace": self.cache_namespace,
            "ttl": 600,
            "mode": "default_off",  # only calls that opt in: the gateway opts in deterministic ones
        }

    def nginx(self) -> ServerProcess:
        port = free_port()
        conf = Template((REPO / "bench" / "nginx.conf.template").read_text()).substitute(
            DIR=self.workdir, PORT=port, COMPLETION=json.dumps(COMPLETION, separators=(",", ":"))
        )
        path = self.workdir / "nginx.conf"
        path.write_text(conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        return self.start("nginx", [nginx, "-c", str(path), "-p", str(self.workdir)], "/v1/models", port=port)

    def fake_model(self) -> ServerProcess:
        return self.start("fake-model", [sys.executable, "scripts/fake_upstream.py", "--port", "{port}"], "/health")

    def demo_mcp(self) -> ServerProcess:
        return self.start("demo-mcp", [sys.executable, "scripts/demo_mcp_server.py", "--port", "{port}"], "/")

    def litellm(self, upstream: str, fake: str, name: str = "litellm", cache: dict | None = None) -> ServerProcess:
        """LiteLLM in front of nginx and the fake model; `cache`: its `cache_params` (Redis)."""
        config: dict[str, Any] = {
            "model_list": [
                {
                    "model_name": "bench-model",
                    "litellm_params": {"model": "openai/bench-model", "api_base": upstream, "api_key": "x"},
                },
                {
                    "model_name": "fake-*",
                    "litellm_params": {"model": "openai/fake-*", "api_base": fake, "api_key": "x"},
                },
            ],
            "general_settings": {"master_key": MASTER_KEY},
            "litellm_settings": {"num_retries": 0},
        }
        if cache:
            config["litellm_settings"] |= {"cache": True, "cache_params": cache}
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return self.start(
            name,
            [str(LITELLM_BIN), "--config", str(path), "--host", "127.0.0.1", "--port", "{port}", "--num_workers", "1"],
            "/health/readiness",
            env={
                "LITELLM_MASTER_KEY": MASTER_KEY,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                "LITELLM_LOG": "ERROR",
                "LITELLM_MODE": "PRODUCTION",  # no load_dotenv() of this repository's .env
            },
        )

    def gateway(
        self, name: str, upstream: str, api_key: str, extra: dict[str, str] | None = None, workers: int | None = None
    ) -> ServerProcess:
        """Our gateway, with every feature on: auth, routing, metrics, audit, tracing. One
        process unless `workers` (uvicorn's `--workers`, metrics merged across them).

        Started as deploy/kubernetes/deployment.yaml starts it: the audit schema migrated by a
        step of its own first (there, an init container), the gateway with
        AUDIT_MIGRATE_ON_START=false, so its memory is a deployed gateway's (no Alembic)."""
        env = {
            "LLM_BASE_URL": upstream,
            "LLM_API_KEY": api_key,
            "REQUIRE_AUTH": "true",
            "API_TOKENS": TOKEN,
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
            "MCP_SERVERS_CONFIG": str(self.workdir / "no-mcp.yaml"),
            "AUDIT_MIGRATE_ON_START": "false",
            **(extra or {}),
        }
        command = [
            # `exec`: the pid the harness measures and stops is the gateway's.
            "sh",
            "-c",
            f'"{SERVER_PYTHON}" -m api.audit.migrate upgrade && exec "$@"',
            "migrate-then-serve",
            str(SERVER_PYTHON),
            "-m",
            "uvicorn",
            "--factory",
            "api.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--timeout-keep-alive",
            "75",
        ]
        # Its own working directory: its embedded audit store and journal are its own.
        cwd = self.workdir / name
        cwd.mkdir()
        if workers is not None:
            # As tests/reliability/test_workers_metrics.py runs them: each worker keeps its
            # metrics in a file of this folder, and a scrape merges them.
            metrics_dir = cwd / "prometheus"
            metrics_dir.mkdir()
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
            command += ["--workers", str(workers)]
        return self.start(name, command, "/health", env=env, cwd=cwd)

    def limited_gateway(self, name: str, upstream: str, extra: dict[str, str]) -> ServerProcess:
        """The gateway with one limited client (limits high enough that nothing is refused)."""
        limits = {
            "requests_per_minute": 10_000_000,
            "tokens_per_minute": 1_000_000_000,
            "concurrent_requests": 10_000,
            "budget_usd": 1_000_000,
        }
        clients = self.workdir / f"{name}-clients.yaml"
        client = {"name": "bench-limited", "token_env": "BENCH_LIMITED_TOKEN", "limits": limits}
        clients.write_text(yaml.safe_dump({"clients": [client]}))
        env = {"CLIENTS_CONFIG": str(clients), "BENCH_LIMITED_TOKEN": LIMITED_TOKEN, **extra}
        return self.gateway(name, upstream, "unused-by-nginx", env)

    def portkey(self, name: str = "portkey") -> ServerProcess:
        """Portkey's gateway: stateless, each request names its provider and host in headers
        (`portkey_headers`). Headless and in production mode: no log UI, no console spinner."""
        script = PORTKEY_PACKAGE / "build" / "start-server.js"
        node = shutil.which("node") or "/usr/bin/node"
        return self.start(name, [node, str(script), "--port={port}", "--headless"], "/", env={"NODE_ENV": "production"})

    def bare_hop(self, name: str, upstream: str) -> ServerProcess:
        command = [
            str(SERVER_PYTHON),
            "-m",
            "uvicorn",
            "--factory",
            "bench.bare_hop:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--no-access-log",
        ]
        return self.start(name, command, "/docs", env={"BARE_HOP_UPSTREAM": upstream})


def portkey_headers(upstream: str) -> dict[str, str]:
    """How Portkey routes a request to an OpenAI-compatible host without a config: provider
    `openai`, the host's base URL (loopback is among its default trusted custom hosts)."""
    return {"x-portkey-provider": "openai", "x-portkey-custom-host": upstream}


def forget_redis_keys(url: str, pattern: str) -> None:
    """Delete the keys a run's servers left in Redis (none when they never started)."""
    connection = redis.Redis.from_url(url)
    try:
        keys = list(connection.scan_iter(pattern))
        if keys:
            connection.delete(*keys)
    except redis.RedisError as exc:
        print(f"could not clean up the bench's Redis keys ({url} {pattern}): {exc}", file=sys.stderr)
    finally:
        connection.close()


def redis_entries(url: str, pattern: str, sample: int = 50) -> tuple[int, float]:
    """How many keys match, and the mean memory one of them takes (MEMORY USAGE of a sample)."""
    connection = redis.Redis.from_url(url)
    try:
        keys = list(connection.scan_iter(pattern, count=1000))
        sizes = [connection.memory_usage(key) or 0 for key in keys[:sample]]
    finally:
        connection.close()
    return len(keys), statistics.fmean(sizes) if sizes else 0.0


# ---- measurements ------------------------------------------------------------------------

_STARTED = time.monotonic()


def progress(step: str) -> None:
    """A timestamped line on stderr: where a run spends its minutes."""
    print(f"[{time.monotonic() - _STARTED:6.1f} s] {step}", file=sys.stderr, flush=True)


def cpu_seconds(processes: list[ServerProcess]) -> float:
    """User + system CPU of the processes and their children (clock ticks → seconds)."""
    pids = [p.process.pid for p in processes if p.process]
    pids += [child for pid in pids for child in _descendants(pid)]
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, IndexError):
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    children = [int(c) for c in out]
    return children + [g for c in children for g in _descendants(c)]


def memory_kb(process: ServerProcess, field_name: str, *, with_children: bool = True) -> int:
    """A /proc status figure (VmRSS, VmHWM) of the process, summed with its children's (the
    gateway's span export process is part of what it costs; shared pages count twice)."""
    pid: int = process.process.pid  # type: ignore[union-attr]
    total = 0
    for each in [pid, *(_descendants(pid) if with_children else [])]:
        try:
            lines = Path(f"/proc/{each}/status").read_text().splitlines()
        except FileNotFoundError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith(field_name + ":")), 0)
    return total


def wrk(target: Target, concurrency: int, seconds: float) -> dict:
    env = {**os.environ, "BENCH_TOKEN": target.token, "BENCH_MODEL": target.model, "BENCH_ROUTING": target.routing}
    env["BENCH_HEADERS"] = "\n".join(f"{name}: {value}" for name, value in target.headers.items())
    if target.body is not None:
        env["BENCH_BODY"] = target.body_json(uuid.uuid4().hex[:12])
    before, redis_before = cpu_seconds(target.processes), redis_usage(target.redis)
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds:g}s",
            "--timeout",
            "20s",
            "-s",
            str(REPO / "bench" / "wrk_chat.lua"),
            target.url,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    cpu = cpu_seconds(target.processes) - before
    redis_after = redis_usage(target.redis)
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    raw = json.loads(line[len("WRK_JSON ") :])
    if raw["errors"] or raw["non2xx"] or not raw["requests"]:
        raise RuntimeError(f"{target.label} at c={concurrency}: {raw['errors']} errors, {raw['non2xx']} non-2xx\n{out}")
    rps = raw["requests"] / (raw["duration_us"] / 1e6)
    return {
        "rps": rps,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "cpu_s_per_1k": cpu / raw["requests"] * 1000 if target.processes else None,
        **redis_per_request(redis_before, redis_after, raw["requests"]),
    }


def redis_per_request(before: tuple[float, int] | None, after: tuple[float, int] | None, requests: int) -> dict:
    if before is None or after is None:
        return {"redis_cpu_s_per_1k": None, "redis_commands_per_request": None}
    return {
        "redis_cpu_s_per_1k": (after[0] - before[0]) / requests * 1000,
        # Minus the two INFO calls of the readings themselves.
        "redis_commands_per_request": (after[1] - before[1] - 2) / requests,
    }


def redis_usage(url: str) -> tuple[float, int] | None:
    """The CPU seconds the Redis server at `url` has used and the commands it has processed
    (None: no URL, or a server not on this machine). The whole server's: on a shared Redis,
    an upper bound of what the bench's servers cost it."""
    if not url:
        return None
    connection = redis.Redis.from_url(url)
    try:
        pid = connection.info("server")["process_id"]
        commands = connection.info("stats")["total_commands_processed"]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (redis.RedisError, OSError):
        return None
    finally:
        connection.close()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), commands


def warm(target: Target, requests: int) -> None:
    """A few sequential requests first: LiteLLM's first answers take seconds (lazy imports, pools)."""
    headers = {"Authorization": f"Bearer {target.token}", **target.headers}
    if target.routing:
        headers["X-Routing-Mode"] = target.routing
    body = {"model": target.model, "messages": [{"role": "user", "content": "warm-up"}]}
    run = f"warm-{uuid.uuid4().hex[:12]}"
    for index in range(requests):
        if target.body is not None:  # its own body: the cache hit scenario's warm-up fills the cache
            body = json.loads(target.body_json(run).replace("{n}", str(index)))
        httpx.post(target.url, json=body, headers=headers, timeout=120).raise_for_status()


def chat_counts(gateway: ServerProcess) -> tuple[float, float]:
    """The gateway's answered chat requests and LiteLLM cache hits so far, from its own metrics,
    read once none is in flight. Answered only: the requests wrk cuts off at the end of a run
    are `cancelled`, with no answer."""
    deadline = time.monotonic() + 30
    text = httpx.get(gateway.url + "/metrics", timeout=10).text
    while metric_total(text, "gateway_in_flight_requests") and time.monotonic() < deadline:
        time.sleep(0.05)
        text = httpx.get(gateway.url + "/metrics", timeout=10).text
    answered = metric_total(text, "gateway_requests_total", '[^}]*status="ok"[^}]*')
    return answered, metric_total(text, "gateway_upstream_cache_hits_total")


def metric_total(text: str, name: str, labels: str = "[^}]*") -> float:
    """The sum of a metric's samples in a Prometheus scrape, over the label sets `labels` matches."""
    return sum(float(value) for value in re.findall(rf"^{name}\{{{labels}\}} (\S+)$", text, re.M))


def stream_client_command(mode: str, urls: list[str], model: str, *extra: str, tokens: list[str]) -> list[str]:
    return [
        sys.executable,
        str(REPO / "bench" / "stream_client.py"),
        mode,
        *urls,
        *(arg for token in tokens for arg in ("--token", token)),
        "--model",
        model,
        *extra,
    ]


def stream_client(mode: str, urls: list[str], model: str, *extra: str, tokens: list[str]) -> Any:
    command = stream_client_command(mode, urls, model, *extra, tokens=tokens)
    return _client_result(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def _client_result(stdout: str) -> Any:
    return json.loads(stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    return {key: statistics.median(r[key] for r in runs) if runs[0][key] is not None else None for key in runs[0]}


# ---- the run -------------------------------------------------------------------------------


@dataclass
class Servers:
    nginx: ServerProcess  # the static upstream, and the span sink
    fake: ServerProcess
    mcp: ServerProcess
    litellm: ServerProcess  # in front of both nginx (bench-model) and the fake model (fake-*)
    gateway: ServerProcess
    gateway_litellm: ServerProcess
    bare: ServerProcess
    gateway_fake: ServerProcess  # streams, the 50 ms upstream, open streams, and reasoning (with MCP)
    bare_fake: ServerProcess
    limits_memory: ServerProcess  # the gateway with a limited client, counters in memory
    limits_redis: ServerProcess  # the same, counters in Redis
    litellm_cache: ServerProcess  # LiteLLM with its Redis response cache on
    gateway_litellm_cache: ServerProcess
    workers_1: ServerProcess  # the gateway under `--workers 1`, metrics in multiprocess mode
    workers_2: ServerProcess  # the same, `--workers 2`
    portkey: ServerProcess  # Portkey's open-source gateway (Node), in front of nginx


def launch_servers(stack: Stack, *, one_litellm: bool = False) -> Servers:
    """Every server of the run, launched together, ready when this returns. `one_litellm`:
    the cache's LiteLLM and its gateway are the plain hop's (its requests never opt in to
    the cache), which spares the smoke run a LiteLLM and a gateway boot (16 s of CPU)."""
    nginx, fake, mcp = stack.nginx(), stack.fake_model(), stack.demo_mcp()
    upstream, fake_upstream = f"{nginx.url}/v1", f"{fake.url}/v1"
    litellm_cache = stack.litellm(upstream, fake_upstream, "litellm-cache", stack.cache_params())
    litellm = litellm_cache if one_litellm else stack.litellm(upstream, fake_upstream)
    tracing = tracing_env(nginx)
    gateway_litellm = stack.gateway("gateway-litellm", f"{litellm.url}/v1", MASTER_KEY, tracing)
    config = stack.workdir / "mcp.yaml"
    config.write_text(yaml.safe_dump({"servers": [{"name": "demo", "url": f"{mcp.url}/mcp"}]}))
    servers = Servers(
        nginx=nginx,
        fake=fake,
        mcp=mcp,
        litellm=litellm,
        gateway=stack.gateway("gateway", upstream, "unused-by-nginx", tracing),
        gateway_litellm=gateway_litellm,
        bare=stack.bare_hop("bare-hop", upstream),
        # 500 streams held open need 500 upstream connections (the default pool is 200). One
        # gateway serves the fake model's measurements and reasoning: a gateway boot is seconds
        # of CPU, which the one-minute smoke run cannot spare.
        gateway_fake=stack.gateway(
            "gateway-fake",
            fake_upstream,
            "unused",
            {
                "LLM_MAX_CONNECTIONS": "600",
                "MCP_SERVERS_CONFIG": str(config),
                **tracing,
                "ORCHESTRATION_ENABLED": "true",
            },
        ),
        bare_fake=stack.bare_hop("bare-hop-fake", fake_upstream),
        limits_memory=stack.limited_gateway("gateway-limits-memory", upstream, tracing),
        limits_redis=stack.limited_gateway(
            "gateway-limits-redis",
            upstream,
            {"RATE_LIMIT_STORAGE_URL": BENCH_REDIS_URL, "RATE_LIMIT_NAMESPACE": stack.redis_prefix, **tracing},
        ),
        litellm_cache=litellm_cache,
        # LLM_CACHE_DETERMINISTIC is on by default: the gateway opts temperature-0 calls in.
        gateway_litellm_cache=(
            gateway_litellm
            if one_litellm
            else stack.gateway("gateway-litellm-cache", f"{litellm_cache.url}/v1", MASTER_KEY, tracing)
        ),
        # The 1-worker gateway in the same metrics mode as the 2-worker one, so their ratio
        # is the second worker's alone (row 2 beside it shows what multiprocess metrics cost).
        workers_1=stack.gateway("gateway-workers-1", upstream, "unused-by-nginx", tracing, workers=1),
        workers_2=stack.gateway("gateway-workers-2", upstream, "unused-by-nginx", tracing, workers=2),
        portkey=stack.portkey(),
    )
    stack.wait_ready()
    return servers


def cache_body(content: str, model: str = "bench-model") -> dict:
    return {
        "model": model,
        "temperature": 0,
        "messages": [{"role": "system", "content": "You are a benchmark."}, {"role": "user", "content": content}],
    }


class CacheCheck:
    """Counts, on the cache gateway's own metrics, how many of each cache scenario's requests
    LiteLLM answered from its cache, so the table's hits are known to be hits and its misses misses."""

    def __init__(self, gateway: ServerProcess) -> None:
        self.gateway = gateway
        self.counts: dict[str, dict[str, float]] = {}
        self.expected: dict[str, str] = {}

    @contextlib.contextmanager
    def counting(self, target: Target) -> Iterator[None]:
        if not target.cache:
            yield
            return
        # Read when no request is in flight (wrk's last ones may still be finishing), so each
        # run's requests are counted in its own window.
        requests, hits = chat_counts(self.gateway)
        yield
        after_requests, after_hits = chat_counts(self.gateway)
        counts = self.counts.setdefault(target.key, {"requests": 0, "cache_hits": 0})
        counts["requests"] += after_requests - requests
        counts["cache_hits"] += after_hits - hits
        self.expected[target.key] = target.cache

    def verified(self, namespace: str) -> dict[str, Any]:
        """The counts, once every hit scenario's request was a hit and no miss scenario's was."""
        for key, counts in self.counts.items():
            wanted = counts["requests"] if self.expected[key] == "hit" else 0
            if not counts["requests"] or counts["cache_hits"] != wanted:
                raise RuntimeError(f"{key}: {counts} (every request should be a {self.expected[key]})")
        entries, entry_bytes = redis_entries(BENCH_CACHE_REDIS_URL, f"{namespace}:*")
        summary = ", ".join(f"{key} {c['cache_hits']:.0f} of {c['requests']:.0f}" for key, c in self.counts.items())
        progress(f"LiteLLM cache hits: {summary}; {entries} entries in Redis, {entry_bytes:.0f} bytes each")
        return {"scenarios": self.counts, "redis_entries": entries, "redis_entry_bytes": entry_bytes}


def throughput_phase(servers: Servers, profile: Profile, cache: CacheCheck) -> dict:
    upstream = f"{servers.nginx.url}/v1"
    litellm, gateway, gateway_litellm, bare = servers.litellm, servers.gateway, servers.gateway_litellm, servers.bare
    cached = servers.gateway_litellm_cache
    cached_url, cached_processes = f"{cached.url}/v1/chat/completions", [cached, servers.litellm_cache]
    targets = [
        Target("direct", "1 direct → upstream", f"{upstream}/chat/completions"),
        Target("gateway", "2 gateway → upstream", f"{gateway.url}/v1/chat/completions", [gateway]),
        Target("litellm", "3 LiteLLM → upstream", f"{litellm.url}/v1/chat/completions", [litellm], token=MASTER_KEY),
        Target(
            "gateway_litellm",
            "4 gateway → LiteLLM → upstream",
            f"{gateway_litellm.url}/v1/chat/completions",
            [gateway_litellm, litellm],
        ),
        Target("bare", "6 bare hop → upstream", f"{bare.url}/v1/chat/completions", [bare]),
        Target(
            "portkey",
            "8 Portkey gateway → upstream",
            f"{servers.portkey.url}/v1/chat/completions",
            [servers.portkey],
            token="unused-by-nginx",
            headers=portkey_headers(upstream),
        ),
    ]
    # Both deterministic, so both consult the cache: one body repeated (the warm-up stores
    # its answer), and one that differs in every request, so none is ever found. Not at the
    # highest concurrency, to keep the run short: there LiteLLM only queues more.
    cached = [
        Target(
            "cache_hit",
            "4h gateway → LiteLLM with cache, all hits",
            cached_url,
            cached_processes,
            body=cache_body(CACHE_PROMPT),
            cache="hit",
            redis=BENCH_CACHE_REDIS_URL,
        ),
        Target(
            "cache_miss",
            "4m gateway → LiteLLM with cache, all misses",
            cached_url,
            cached_processes,
            body=cache_body(MISS_PROMPT),
            cache="miss",
            redis=BENCH_CACHE_REDIS_URL,
        ),
    ]
    cached_at = profile.concurrency[:-1] or profile.concurrency
    # The limiter's cost per request: at one concurrency only (the middle one), to keep the run short.
    limited = [
        Target(key, label, f"{server.url}/v1/chat/completions", [server], token=LIMITED_TOKEN, redis=url)
        for key, label, server, url in (
            ("limits_memory", "2m gateway, limited client, limits in memory", servers.limits_memory, ""),
            ("limits_redis", "2r gateway, limited client, limits in Redis", servers.limits_redis, BENCH_REDIS_URL),
        )
    ]
    limited_at = profile.concurrency[len(profile.concurrency) // 2]
    # A second worker needs connections to spread over: at the highest concurrency only.
    workers = [
        Target(key, label, f"{server.url}/v1/chat/completions", [server])
        for key, label, server in (
            ("workers_1", "7w1 gateway → upstream, --workers 1", servers.workers_1),
            ("workers_2", "7w2 gateway → upstream, --workers 2", servers.workers_2),
        )
    ]
    workers_at = profile.concurrency[-1]
    everything = targets[:-2] + cached + targets[-2:] + limited + workers  # the order of the tables
    for target in everything:
        warm(target, profile.warm_requests)
    schedule = {
        c: [t for t in everything if t in targets or (t in cached and c in cached_at)]
        + (limited if c == limited_at else [])
        + (workers if c == workers_at else [])
        for c in profile.concurrency
    }
    runs: dict[tuple[str, int], list[dict]] = {}
    for _ in range(profile.rounds):
        for concurrency in profile.concurrency:
            for target in schedule[concurrency]:
                with cache.counting(target):
                    runs.setdefault((target.key, concurrency), []).append(wrk(target, concurrency, profile.seconds))
    results = {f"{key}@{c}": median_of(r) for (key, c), r in runs.items()}
    labels = {t.key: t.label for t in everything}
    return {"labels": labels, "results": results}


def streaming_phase(servers: Servers, profile: Profile, cache: CacheCheck) -> dict:
    upstream = f"{servers.fake.url}/v1"
    litellm, gateway, gateway_litellm, bare = (
        servers.litellm,
        servers.gateway_fake,
        servers.gateway_litellm,
        servers.bare_fake,
    )
    urls = {
        "direct": f"{upstream}/chat/completions",
        "gateway": f"{gateway.url}/v1/chat/completions",
        "litellm": f"{litellm.url}/v1/chat/completions",
        "gateway_litellm": f"{gateway_litellm.url}/v1/chat/completions",
        "bare": f"{bare.url}/v1/chat/completions",
    }
    tokens = {"litellm": MASTER_KEY}
    n = str(profile.stream_samples)
    ttfts = stream_client(
        "ttft",
        list(urls.values()),
        "fake-model+chunks=20x10",
        *("-n", n, "--warmup", str(profile.stream_warmup)),
        tokens=[tokens.get(k, TOKEN) for k in urls],
    )
    streams = dict(zip(urls, ttfts, strict=True))
    progress("time to first token measured")

    # A realistic upstream: 50 ms per answer, 10 clients at once.
    latency = {}
    for key, url in urls.items():
        target = Target(key, key, url, model="fake-model+latency=50", token=tokens.get(key, TOKEN))
        latency[key] = wrk(target, 10, profile.seconds)
    # Where the cache pays: a hit does not wait for the upstream's 50 ms.
    cached_url, slow = f"{servers.gateway_litellm_cache.url}/v1/chat/completions", "fake-model+latency=50"
    for key, expected, content in (("cache_hit", "hit", CACHE_PROMPT), ("cache_miss", "miss", MISS_PROMPT)):
        target = Target(f"{key}_latency50", key, cached_url, body=cache_body(content, slow), cache=expected)
        warm(target, 1)  # for the hits: stores the answer
        with cache.counting(target):
            latency[key] = wrk(target, 10, profile.seconds)
    progress("50 ms upstream measured")

    held = {"gateway": gateway, "litellm": litellm, "bare": bare}
    idle = {key: memory_kb(server, "VmRSS") for key, server in held.items()}
    # The servers are held open at once, each by its own client process: the readings do
    # not depend on each other, and taken in turn they cost seconds of the smoke run.
    clients = {
        key: subprocess.Popen(
            stream_client_command(
                "hold",
                [urls[key]],
                "fake-model+chunks=40x250",
                *("-n", str(profile.open_streams), "--hold", str(profile.hold_seconds)),
                tokens=[tokens.get(key, TOKEN)],
            ),
            stdout=subprocess.PIPE,
            text=True,
        )
        for key in held
    }
    memory = {}
    for key, client in clients.items():
        stdout, _ = client.communicate()
        if client.returncode:
            raise RuntimeError(f"the stream client holding {key} failed with {client.returncode}")
        peak = memory_kb(held[key], "VmHWM")
        children = peak - memory_kb(held[key], "VmHWM", with_children=False)
        memory[key] = {
            "idle_rss_mb": idle[key] / 1024,
            "peak_rss_mb": peak / 1024,
            "children_peak_rss_mb": children / 1024,
            **_client_result(stdout),
        }

    progress("open streams measured")
    reasoning_gateway = servers.gateway_fake
    _wait_for_tools(reasoning_gateway)
    reasoning = Target(
        "reasoning",
        "5 gateway reasoning",
        f"{reasoning_gateway.url}/v1/chat/completions",
        [reasoning_gateway],
        "fake-model+agent=weather",
        "reasoning",
    )
    warm(reasoning, 3)
    reasoning_runs = {f"c={c}": wrk(reasoning, c, profile.seconds) for c in profile.concurrency if c <= 10}
    return {"streams": streams, "latency50": latency, "memory": memory, "reasoning": reasoning_runs}


def tracing_env(sink: ServerProcess) -> dict[str, str]:
    """Tracing on, exporting to a collector that accepts everything (nginx answers 200)."""
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "PHOENIX_COLLECTOR_ENDPOINT": sink.url}


def _wait_for_tools(gateway: ServerProcess) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tools = httpx.get(gateway.url + "/tools", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        if tools["data"]:
            return
        time.sleep(0.2)
    raise RuntimeError("the reasoning gateway never listed the demo MCP tools")


def environment() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "?",
    )
    versions = {name: metadata.version(name) for name in ("fastapi", "uvicorn", "openai", "starlette", "pydantic")}
    litellm = subprocess.run(
        [str(LITELLM_BIN.parent / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
    )
    versions["litellm"] = litellm.stdout.strip()
    versions["portkey"] = json.loads((PORTKEY_PACKAGE / "package.json").read_text())["version"]
    versions["nginx"] = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    versions["wrk"] = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[1]
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the gateway against the alternatives.")
    parser.add_argument("--quick", action="store_true", help="a smoke run: checks the harness, not the numbers")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    if args.quick:
        profile = Profile(
            rounds=1,
            seconds=1,
            concurrency=(1,),
            stream_samples=2,
            open_streams=20,
            out_dir=workdir,
            hold_seconds=0.5,
            warm_requests=5,
            stream_warmup=1,
            audit_seconds=1,
        )
    else:
        profile = Profile(
            rounds=3, seconds=5, concurrency=(1, 10, 50), stream_samples=30, open_streams=500, out_dir=REPO / "docs"
        )
    stack = Stack(workdir)
    started = time.monotonic()
    try:
        servers = launch_servers(stack, one_litellm=args.quick)
        progress("servers ready")
        cache = CacheCheck(servers.gateway_litellm_cache)
        throughput = throughput_phase(servers, profile, cache)
        progress("throughput measured")
        streaming = streaming_phase(servers, profile, cache)
        progress("streams, memory and reasoning measured")
        fake_gateway = servers.gateway_fake  # its MCP tools are up: the reasoning runs waited for them
        orchestration = orchestration_overhead.measure(
            fake_gateway.url, TOKEN, lambda: cpu_seconds([fake_gateway]), orchestration_overhead.profile(args.quick)
        )
        progress("orchestration measured")
        cache_check = cache.verified(stack.cache_namespace)  # before the stop deletes the entries
    finally:
        stack.stop()
        progress("servers stopped")
    # On a quiet machine: what one Postgres takes is not to share its cores with the servers.
    audit = asyncio.run(measure_audit_rate(profile.audit_seconds, AUDIT_WRITERS))
    progress(f"audit writes measured: {audit['rows_per_s']:.0f} rows/s")
    results = {
        "environment": environment(),
        "command": "make bench-quick" if args.quick else "make bench",
        "profile": {"rounds": profile.rounds, "seconds": profile.seconds, "concurrency": list(profile.concurrency)},
        "elapsed_s": round(time.monotonic() - started, 1),
        "throughput": throughput,
        **streaming,
        "cache_check": cache_check,
        "audit_rate": audit,
        "orchestration": orchestration,
    }
    write_report(results, profile.out_dir)
    print(f"benchmark done in {results['elapsed_s']} s; report in {profile.out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
