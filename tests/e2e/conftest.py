"""The web client end to end: a real browser → the web client → the gateway → LiteLLM → the fake model.

The browser is Debian's chromium (`/usr/bin/chromium`, `apt-get install chromium`; `.ci/run`
installs it), driven by Playwright's own driver. Browsers are never downloaded: a missing
chromium is a test failure, not a skip. Each test gets a fresh browser context, and a
screenshot of its page is saved under `test-artifacts/screenshots/` (`TEST_ARTIFACTS_DIR`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.conftest import PHOENIX_PROJECT, TOKEN, Gateway, time_server, write_mcp_config
from tests.support.mcp import wait_for_servers
from tests.support.processes import REPO, ServerProcess, free_port

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", REPO / "test-artifacts")) / "screenshots"


@dataclass
class WebClient:
    process: ServerProcess

    @property
    def url(self) -> str:
        return self.process.url

    def logs(self) -> str:
        return self.process.logs()


@pytest.fixture(scope="session")
def start_web_client(logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., WebClient]]:
    """Start (or reuse) `python -m web_client` in front of `gateway`, with `WEB_CLIENT_*` overrides.

    It runs open (no login) on loopback unless a `password` is given.

    It runs from an empty working directory so a developer's `.env` cannot leak in.
    """
    running: dict[tuple[tuple[str, str], ...], WebClient] = {}
    workdir = tmp_path_factory.mktemp("web-client-cwd")

    def start(gateway: Gateway, **overrides: object) -> WebClient:
        env = {"WEB_CLIENT_GATEWAY_URL": gateway.url, "WEB_CLIENT_API_TOKEN": TOKEN, "WEB_CLIENT_PHOENIX_URL": ""}
        env["WEB_CLIENT_OPEN"] = "false" if "password" in overrides else "true"
        env.update({f"WEB_CLIENT_{key.upper()}": str(value) for key, value in overrides.items()})
        key = tuple(sorted(env.items()))
        if key not in running:
            port = free_port()
            name = f"web-client-{len(running)}"
            process = ServerProcess(
                name,
                [sys.executable, "-m", "web_client"],
                port,
                logs_dir / f"{name}.log",
                env={**env, "WEB_CLIENT_HOST": "127.0.0.1", "WEB_CLIENT_PORT": str(port)},
                cwd=workdir,
            ).start("/health")
            running[key] = WebClient(process)
        return running[key]

    yield start
    for client in running.values():
        client.process.stop()


@pytest.fixture(scope="session")
def start_traced_gateway(
    start_gateway, litellm_to_phoenix, phoenix, demo_mcp, tmp_path_factory
) -> Callable[..., Gateway]:
    """Start a gateway that traces into the real Phoenix, in front of the LiteLLM that does too,
    with the demo MCP server; `overrides` add settings (the Phoenix tests' gateways differ in those)."""
    config = write_mcp_config(
        tmp_path_factory.mktemp("mcp") / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"}
    )

    def start(**overrides: object) -> Gateway:
        return start_gateway(
            litellm_to_phoenix,
            phoenix_collector_endpoint=phoenix.url,
            phoenix_project_name=PHOENIX_PROJECT,
            mcp_servers_config=config,
            **overrides,
        )

    return start


@pytest.fixture(scope="session")
def agent_gateway(start_gateway, demo_mcp, tmp_path_factory) -> Gateway:
    """A gateway whose reasoning agent has the demo MCP server (HTTP) and mcp-server-time (stdio)."""
    config = write_mcp_config(
        tmp_path_factory.mktemp("web-mcp") / "servers.yaml",
        {"name": "demo", "url": demo_mcp.url + "/mcp"},
        time_server(),
    )
    gateway = start_gateway(mcp_servers_config=config, tool_timeout_seconds=5, max_reasoning_iterations=4)
    wait_for_servers(gateway, {"demo": "up", "time": "up"})
    return gateway


@pytest.fixture(scope="session")
def web_client(start_web_client, agent_gateway) -> WebClient:
    """The web client in front of the agent gateway, with trace links to a Phoenix UI URL."""
    return start_web_client(agent_gateway, phoenix_url="http://phoenix.test:6006")


PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def locked_web_client(start_web_client, agent_gateway) -> WebClient:
    """The web client with a login (`PASSWORD`), as compose runs it."""
    return start_web_client(agent_gateway, password=PASSWORD)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Chromium for one test module.

    Module-scoped on purpose: Playwright's sync API keeps an event loop running in this
    thread while it is open, and pytest-asyncio cannot run the async tests of other
    modules on top of it; closing it at the end of each module frees the thread again.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"no chromium at {CHROMIUM}: `apt-get install -y chromium` (.ci/run does it)")
    with sync_playwright() as playwright:
        # launch() gives every run a fresh temporary profile (user-data dir).
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page; any uncaught JavaScript error fails the test; a screenshot is saved at the end."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    js_errors: list[str] = []
    page.on("pageerror", lambda error: js_errors.append(str(error)))
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
    context.close()
    assert not js_errors, f"JavaScript errors on the page: {js_errors}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
