"""The image's services, run as docker compose would run them, without Docker.

The image's /app is rebuilt in a temporary folder from exactly what the Dockerfile's
runtime stage copies; each service then runs there with its compose `command` and its
compose `environment` (read from .env.dev.example, as `cp .env.dev.example .env` gives),
with the app's virtual environment first on PATH as in the image. Only what names another
container is pointed at a local stand-in (LiteLLM at the suite's real proxy, the audit
database at a file), and ports are free ones. Then the compose health checks and the
Dockerfile's HEALTHCHECK run, as Docker would run them, against the live process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MASTER_KEY
from tests.support.deployment_files import (
    COMPOSE_DEV_FILE,
    COMPOSE_FILE,
    IMAGE_ENV,
    REPO,
    dockerfile,
    env_file,
    health_command,
    image_root_in,
    interpolate,
    load_yaml,
    loopback,
    merge_compose,
    on_port,
)
from tests.support.processes import ServerProcess, free_port

SERVICES = load_yaml(COMPOSE_FILE)["services"]
DEV_ENV = env_file(REPO / ".env.dev.example")
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/app as the runtime stage leaves it (the installed package lives in the venv)."""
    return image_root_in(tmp_path_factory.mktemp("app"))


def container_env(
    service: dict[str, Any], dot_env: dict[str, str] | None = None, **overrides: str | None
) -> dict[str, str | None]:
    """The service's compose environment with .env.dev.example (plus `dot_env`) as .env; nothing else inherited."""
    env: dict[str, str | None] = {name: None for name in os.environ}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", HOME=os.environ.get("HOME", "/tmp"), **IMAGE_ENV)
    for name, value in service.get("environment", {}).items():
        env[name] = interpolate(str(value), {**DEV_ENV, **(dot_env or {})})
    env.update(overrides)
    return env


def run_check(argv: list[str], env: dict[str, str | None], cwd: Path) -> int:
    clean = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    return subprocess.run(argv, env=clean, cwd=cwd, capture_output=True, timeout=30).returncode


@pytest.fixture(scope="module")
def gateway_container(
    image_root: Path, litellm: str, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, dict[str, str | None]]]:
    port = free_port()
    env = container_env(
        SERVICES["reasoning-api"],
        LLM_BASE_URL=litellm,  # instead of http://litellm:4000
        LLM_API_KEY=MASTER_KEY,  # the suite's LiteLLM has no database: its master key
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('audit')}/audit.db",
        PHOENIX_COLLECTOR_ENDPOINT=None,  # no Phoenix here
    )
    process = ServerProcess(
        "compose-reasoning-api",
        loopback(on_port(SERVICES["reasoning-api"]["command"], 8000, port)),
        port,
        logs_dir / "compose-reasoning-api.log",
        env=env,
        cwd=image_root,
    ).start("/health")
    yield process, env
    process.stop()


def test_the_gateway_runs_from_the_image_files_and_passes_both_health_checks(gateway_container, image_root):
    process, env = gateway_container
    compose_check = on_port(health_command(SERVICES["reasoning-api"]), 8000, process.port)
    assert run_check(compose_check, env, image_root) == 0
    [healthcheck] = [i.arguments for i in dockerfile() if i.keyword == "HEALTHCHECK"]
    image_check = healthcheck[healthcheck.index("[") :]
    image_argv = on_port(json.loads(image_check), 8000, process.port)
    assert run_check(image_argv, env, image_root) == 0
    assert httpx.get(process.url + "/health").json()["status"] == "ok"


def test_the_gateway_uses_the_compose_mcp_servers_and_finds_the_stdio_one_on_path(gateway_container):
    process, _ = gateway_container
    deadline = time.monotonic() + 30
    servers: dict[str, dict] = {}
    while time.monotonic() < deadline:
        servers = {s["name"]: s for s in httpx.get(process.url + "/tools").json()["servers"]}
        if servers.get("time", {}).get("state") == "up":
            break
        time.sleep(0.3)
    assert set(servers) == {"demo", "time"}
    assert servers["time"]["state"] == "up", servers["time"]  # mcp-server-time from the venv, via PATH
    # `fake-mcp-server` is a compose service name: outside the compose network it cannot be
    # reached, and the gateway serves on without it.
    assert servers["demo"]["state"] in ("connecting", "down")


def test_the_gateway_forwards_chat_to_litellm(gateway_container):
    process, _ = gateway_container
    response = httpx.post(
        process.url + "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-routing-path"] == "passthrough"


def test_health_checks_fail_when_the_service_is_gone(image_root):
    dead = free_port()
    for name, port in [("reasoning-api", 8000), ("fake-mcp-server", 8001), ("litellm", 4000)]:
        check = on_port(health_command(SERVICES[name]), port, dead)
        assert run_check(check, container_env(SERVICES[name]), image_root) != 0, name


@pytest.mark.parametrize("host", ["as in compose", "127.0.0.1"])
def test_the_demo_mcp_server_runs_from_the_image_and_accepts_its_service_name(image_root, logs_dir, host):
    port = free_port()
    env = container_env(SERVICES["fake-mcp-server"])
    command = on_port(SERVICES["fake-mcp-server"]["command"], 8001, port)
    if host != "as in compose":
        command[command.index("--host") + 1] = host
    process = ServerProcess(
        "compose-fake-mcp-server", command, port, logs_dir / "compose-fake-mcp-server.log", env=env, cwd=image_root
    ).start("/")
    try:
        assert run_check(on_port(health_command(SERVICES["fake-mcp-server"]), 8001, port), env, image_root) == 0
        # The gateway connects as http://fake-mcp-server:8001/mcp. The MCP server accepts that
        # Host header when bound to 0.0.0.0 (its compose command); bound to a loopback address
        # it guards against DNS rebinding and refuses every other host with 421.
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        }
        response = httpx.post(
            f"{process.url}/mcp",
            json=initialize,
            headers={"Host": "fake-mcp-server:8001", "Accept": "application/json, text/event-stream"},
            timeout=10,
        )
        assert response.status_code == (200 if host == "as in compose" else 421), response.text
    finally:
        process.stop()


def test_the_web_client_runs_from_the_image_and_reaches_the_gateway(gateway_container, image_root, logs_dir):
    """As compose runs it: behind its login (compose requires WEB_CLIENT_PASSWORD), never open."""
    gateway, _ = gateway_container
    port = free_port()
    service = SERVICES["web-client"]
    password = "compose-test-password"
    env = container_env(
        service,
        {"WEB_CLIENT_PASSWORD": password},
        WEB_CLIENT_GATEWAY_URL=gateway.url,  # instead of http://reasoning-api:8000
        WEB_CLIENT_HOST="127.0.0.1",  # tests serve this machine only (compose: 0.0.0.0)
        WEB_CLIENT_PORT=str(port),
    )
    assert service["environment"]["WEB_CLIENT_HOST"] == "0.0.0.0"
    assert env["WEB_CLIENT_OPEN"] == "false"
    process = ServerProcess(
        "compose-web-client", service["command"], port, logs_dir / "compose-web-client.log", env=env, cwd=image_root
    ).start("/health")
    try:
        assert run_check(on_port(health_command(service), 8080, port), env, image_root) == 0
        with httpx.Client(base_url=process.url, timeout=10) as browser:
            assert browser.get("/api/models").status_code == 401  # no session: no relay
            assert browser.post("/api/login", json={"password": password}).status_code == 200
            models = browser.get("/api/models")
        assert models.status_code == 200
        assert "gpt-4o" in models.text
    finally:
        process.stop()


def test_litellms_compose_health_check_passes_against_the_real_proxy(litellm, image_root):
    port = int(litellm.rsplit(":", 1)[1])
    check = on_port(health_command(SERVICES["litellm"]), 4000, port)
    assert check[0] == "python3"
    assert run_check(check, {}, image_root) == 0


def test_the_dev_override_runs_the_mounted_source_and_reloads_it(image_root, litellm, logs_dir, tmp_path):
    """docker-compose.dev.yml: ./api and ./config mounted over /app, uvicorn --reload watching them."""
    app = tmp_path / "app"
    shutil.copytree(image_root, app)
    service = merge_compose(load_yaml(COMPOSE_FILE), load_yaml(COMPOSE_DEV_FILE))["services"]["reasoning-api"]
    for volume in service["volumes"]:
        source, target = volume.split(":")[:2]
        if source.startswith("./"):  # the dev override's bind mounts
            shutil.copytree(REPO / source, app / Path(target).relative_to("/app"), dirs_exist_ok=True)
    marker = app / "api" / "__init__.py"
    original = marker.read_text()
    marker.write_text(original + '\n__version__ = "mounted-source"\n')
    port = free_port()
    command = [arg.replace("/app", str(app)) for arg in loopback(on_port(service["command"], 8000, port))]
    env = container_env(
        service,
        LLM_BASE_URL=litellm,
        LLM_API_KEY=MASTER_KEY,
        DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/audit.db",
        PHOENIX_COLLECTOR_ENDPOINT=None,
    )
    process = ServerProcess("compose-dev-reasoning-api", command, port, logs_dir / "compose-dev.log", env=env, cwd=app)
    process.start("/health")
    try:
        # The mounted source wins over the package installed in the image ...
        assert httpx.get(process.url + "/health").json()["version"] == "mounted-source"
        # ... and an edit to it is served without a restart.
        marker.write_text(original + '\n__version__ = "edited"\n')
        deadline = time.monotonic() + 30
        version = None
        while time.monotonic() < deadline and version != "edited":
            time.sleep(0.5)
            try:
                version = httpx.get(process.url + "/health", timeout=2).json()["version"]
            except httpx.HTTPError:
                continue
        assert version == "edited", process.logs()[-2000:]
        # Auth is off in development: a protected route answers without a token.
        assert httpx.get(process.url + "/v1/routes").status_code == 200
    finally:
        process.stop()
