"""Session fixtures that start real servers: the fake upstream, a LiteLLM proxy, gateways.

The only fake is the model (scripts/fake_upstream.py). LiteLLM is the real proxy from
PyPI, installed in its own environment by `make install-litellm`; a missing LiteLLM is
a test failure, not a skip. The audit store is real too: a SQLite file, or a fresh
database on the real PostgreSQL server (`TEST_DATABASE_URL`), per test.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml

from tests.support.databases import TestDatabase, drop, postgres_address, postgres_database, sqlite_database
from tests.support.fake_upstream import FakeUpstream
from tests.support.phoenix import PHOENIX_BIN, PhoenixReader, start_phoenix
from tests.support.processes import REPO, ServerProcess, free_port
from tests.support.tcp_forwarder import TcpForwarder

LITELLM_BIN = Path(os.environ.get("LITELLM_BIN", REPO / ".tools" / "litellm" / "bin" / "litellm"))
LITELLM_TEST_CONFIG = REPO / "tests" / "support" / "litellm_test_config.yaml"
MASTER_KEY = "sk-test-master-key"
TOKEN = "test-token"
OPS_TOKEN = "test-ops-token"  # client `test-ops` (tests/support/clients_test.yaml): audit:all, usage:all
OPS_HEADERS = {"Authorization": f"Bearer {OPS_TOKEN}"}
CONTROL_TOKEN = "test-control-token"  # client `test-control`: upstream:control
TEST_CLIENTS_CONFIG = REPO / "tests" / "support" / "clients_test.yaml"


def log_events(text: str) -> list[dict]:
    """The JSON lines of a log (anything else a process printed is skipped)."""
    events = []
    for line in text.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass
class Gateway:
    process: ServerProcess

    @property
    def url(self) -> str:
        return self.process.url

    @property
    def base_url(self) -> str:
        return self.process.url + "/v1"

    def logs(self) -> str:
        return self.process.logs()

    def give_up_after(self, seconds: float, body: dict, client_request_id: str, headers: dict[str, str]) -> None:
        """POST a chat request and leave (close the connection) once `seconds` pass unanswered.

        No answer means no `X-Request-Id` to read: find it later by `client_request_id`.
        """
        with contextlib.suppress(httpx.ReadTimeout):
            httpx.post(
                self.base_url + "/chat/completions",
                json=body,
                headers={**headers, "X-Client-Request-Id": client_request_id},
                timeout=seconds,
            )

    def audit_row(self, request_id: str, timeout: float = 5.0) -> dict:
        """The audit row of a request, read as the operator client does (rows land shortly after the answer)."""
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.get(f"{self.base_url}/audit/{request_id}", headers=OPS_HEADERS, timeout=10)
            if response.status_code == 200:
                return response.json()
            if time.monotonic() > deadline:
                raise AssertionError(f"no audit row for {request_id}: {response.status_code} {response.text}")
            time.sleep(0.05)

    def access_line(self, request_id: str | None = None, *, client_request_id: str | None = None) -> dict:
        """The access-log line of a request (written when it finishes), by the gateway's id or the caller's."""
        key, wanted = ("request_id", request_id) if request_id is not None else ("client_request_id", client_request_id)
        assert wanted is not None, "name the request_id or the client_request_id"
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            for line in log_events(self.logs()):
                if line.get("event") == "request" and line.get(key) == wanted:
                    return line
            time.sleep(0.05)
        raise AssertionError(f"no access line with {key}={wanted} in {self.process.log_path}")


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def fake_upstream(logs_dir: Path) -> Iterator[FakeUpstream]:
    port = free_port()
    process = ServerProcess(
        "fake-upstream",
        [sys.executable, str(REPO / "scripts" / "fake_upstream.py"), "--port", str(port)],
        port,
        logs_dir / "fake-upstream.log",
    ).start("/health")
    yield FakeUpstream(process.url)
    process.stop()


def start_litellm(
    name: str,
    fake_upstream: FakeUpstream,
    logs_dir: Path,
    phoenix_traces_url: str,
    project: str = "default",
    config: Path = LITELLM_TEST_CONFIG,
    extra_env: dict[str, str] | None = None,
) -> ServerProcess:
    """A real LiteLLM proxy in front of the fake upstream, sending its spans to `phoenix_traces_url`.

    `extra_env` adds variables its config reads (e.g. more fake upstreams' URLs).
    """
    if not LITELLM_BIN.exists():
        pytest.fail(f"LiteLLM is not installed at {LITELLM_BIN}: run `make install-litellm` (make test does)")
    port = free_port()
    return ServerProcess(
        name,
        [str(LITELLM_BIN), "--config", str(config), "--host", "127.0.0.1", "--port", str(port)],
        port,
        logs_dir / f"{name}.log",
        env={
            "LITELLM_MASTER_KEY": MASTER_KEY,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            # LiteLLM's own load_dotenv() would read a developer's .env from this repository.
            "LITELLM_MODE": "PRODUCTION",
            "FAKE_UPSTREAM_BASE_URL": fake_upstream.base_url,
            "OPENAI_API_KEY": None,  # the `needs-openai-key` model must find no provider key
            "PHOENIX_COLLECTOR_HTTP_ENDPOINT": phoenix_traces_url,
            "PHOENIX_PROJECT_NAME": project,
            # Where LiteLLM imports its Phoenix callback from (config/litellm_phoenix.py).
            "PYTHONPATH": str(REPO / "config"),
            **(extra_env or {}),
        },
    ).start("/health/readiness", timeout=180)


@pytest.fixture(scope="session")
def litellm(fake_upstream: FakeUpstream, logs_dir: Path) -> Iterator[str]:
    """A real LiteLLM proxy in front of the fake upstream; yields its URL.

    Its Phoenix callback points at a port nothing listens on: LiteLLM must serve
    as usual when Phoenix is down (the e2e tests start one that exports to a real Phoenix).
    """
    process = start_litellm("litellm", fake_upstream, logs_dir, f"http://127.0.0.1:{free_port()}/v1/traces")
    yield process.url
    process.stop()


@pytest.fixture(scope="session")
def demo_mcp(logs_dir: Path) -> Iterator[ServerProcess]:
    """Our demo MCP server (streamable HTTP), shared by the reasoning tests."""
    process = start_demo_mcp(logs_dir, "demo-mcp")
    yield process
    process.stop()


def start_demo_mcp(logs_dir: Path, name: str, *extra: str) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        name,
        [sys.executable, str(REPO / "scripts" / "demo_mcp_server.py"), "--port", str(port), *extra],
        port,
        logs_dir / f"{name}.log",
    ).start("/")


def time_server() -> dict[str, object]:
    """The third-party MCP server (PyPI mcp-server-time), launched over stdio by the gateway."""
    return {
        "name": "time",
        "command": str(Path(sys.executable).parent / "mcp-server-time"),
        "args": ["--local-timezone", "UTC"],
    }


def write_mcp_config(path: Path, *servers: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump({"servers": list(servers)}))
    return path


@pytest.fixture(scope="session")
def phoenix(logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixReader]:
    """A real Phoenix (installed by `make install-phoenix`); a missing one is a failure."""
    if not PHOENIX_BIN.exists():
        pytest.fail(f"Phoenix is not installed at {PHOENIX_BIN}: run `make install-phoenix` (make test-e2e does)")
    process = start_phoenix(logs_dir, tmp_path_factory.mktemp("phoenix"))
    yield PhoenixReader(process.url)
    process.stop()


PHOENIX_PROJECT = "gateway-e2e"


@pytest.fixture(scope="session")
def litellm_to_phoenix(fake_upstream: FakeUpstream, logs_dir: Path, phoenix: PhoenixReader) -> Iterator[str]:
    """A second LiteLLM proxy whose Phoenix callback exports to the test Phoenix."""
    process = start_litellm(
        "litellm-phoenix", fake_upstream, logs_dir, phoenix.url + "/v1/traces", project=PHOENIX_PROJECT
    )
    yield process.url
    process.stop()


def gateway_env(upstream_url: str, **overrides: object) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "LLM_BASE_URL": upstream_url,
        "LLM_API_KEY": MASTER_KEY,
        "REQUIRE_AUTH": "true",
        "API_TOKENS": TOKEN,
        "CLIENTS_CONFIG": str(TEST_CLIENTS_CONFIG),
        "TEST_OPS_TOKEN": OPS_TOKEN,
        "TEST_CONTROL_TOKEN": CONTROL_TOKEN,
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        # Tracing is off unless a test turns it on, whatever the developer's shell says.
        "PHOENIX_COLLECTOR_ENDPOINT": None,
        "OTEL_EXPORTER_OTLP_ENDPOINT": None,
    }
    env.update({key.upper(): str(value) for key, value in overrides.items()})
    return env


def launch_gateway_process(
    litellm_url: str, name: str, log_path: Path, cwd: Path, *, uvicorn_args: tuple[str, ...] = (), **overrides: object
) -> Gateway:
    """A gateway subprocess on a free port, running in `cwd` (its SQLite audit store and journal live there).

    `uvicorn_args` adds command-line options, e.g. `("--workers", "2")`.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--host", "127.0.0.1"]
    command += ["--timeout-keep-alive", "75", *uvicorn_args]  # as the image runs it
    process = ServerProcess(
        name,
        [*command, "--port", str(port)],
        port,
        log_path,
        env=gateway_env(litellm_url, **overrides),
        cwd=cwd,
    ).start("/health")
    return Gateway(process)


@pytest.fixture(scope="session")
def start_gateway(
    litellm: str, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Gateway]]:
    """Start (or reuse) a gateway process with settings overrides, e.g. `llm_read_timeout=1`.

    In front of the session's LiteLLM proxy unless `upstream` names another server. Each
    runs from its own empty working directory, so a developer's `.env` cannot leak in and no
    two gateways share the default SQLite audit store or journal.
    """
    running: dict[tuple[tuple[str, str | None], ...], Gateway] = {}

    def start(upstream: str | None = None, **overrides: object) -> Gateway:
        key = tuple(sorted(gateway_env(upstream or litellm, **overrides).items()))
        if key not in running:
            name = f"gateway-{len(running)}"
            workdir = tmp_path_factory.mktemp(f"{name}-cwd")
            log_path = logs_dir / f"{name}.log"
            running[key] = launch_gateway_process(upstream or litellm, name, log_path, workdir, **overrides)
        return running[key]

    yield start
    for gateway in running.values():
        gateway.process.stop()


@pytest.fixture
def launch_gateway(litellm: str, logs_dir: Path, tmp_path: Path) -> Iterator[Callable[..., Gateway]]:
    """Start gateways that live only for this test; pass the same `cwd` to restart one on its files."""
    launched: list[Gateway] = []

    def launch(cwd: Path | None = None, uvicorn_args: tuple[str, ...] = (), **overrides: object) -> Gateway:
        name = f"{tmp_path.name}-gateway-{len(launched)}"
        log_path = logs_dir / f"{name}.log"
        workdir = cwd or tmp_path
        gateway = launch_gateway_process(litellm, name, log_path, workdir, uvicorn_args=uvicorn_args, **overrides)
        launched.append(gateway)
        return gateway

    yield launch
    for gateway in launched:
        gateway.process.stop()


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TestDatabase]:
    """An empty audit database of each kind: a SQLite file, and a new database on the real Postgres."""
    db = await (sqlite_database(tmp_path) if request.param == "sqlite" else postgres_database())
    yield db
    await drop(db)


@pytest.fixture
async def postgres_db() -> AsyncIterator[TestDatabase]:
    """An empty database on the real Postgres server (for tests that take the server away)."""
    db = await postgres_database()
    yield db
    await drop(db)


@pytest.fixture
def postgres_forwarder() -> Iterator[TcpForwarder]:
    """A forwarder to the Postgres server that the test can close (server "down") and reopen."""
    forwarder = TcpForwarder(*postgres_address())
    forwarder.open()
    yield forwarder
    forwarder.stop()


@pytest.fixture(scope="session")
def gateway(start_gateway: Callable[..., Gateway]) -> Gateway:
    """The default gateway: auth on, in front of the real LiteLLM proxy."""
    return start_gateway()


@pytest.fixture
def client(gateway: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)


@pytest.fixture
def aclient(gateway: Gateway) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
