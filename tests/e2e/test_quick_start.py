"""The README's quick start, run as a new user runs it: `make run-demo` and `make run` in a fresh clone.

A fresh copy of this working tree (a `git clone` plus the uncommitted changes, with no
`.env`, `.venv` or `.tools/`) installs its own environments, exactly as a first-time user's
would: copying the installed ones would hide the failure this guards against, since their
scripts point back at this checkout (its interpreter, its editable install, and
python-dotenv's search, which starts from the calling package's location). The stack must
come up, stay up, answer what the README promises, and stop cleanly on Ctrl-C.

The stack listens on its fixed ports (4000, 8000, 8001, 8080, 9100), as the README says;
a port already taken is a test failure that names it.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import openai
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ARTIFACTS
from tests.support.chat_page import open_chat, send
from tests.support.processes import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

GATEWAY = "http://127.0.0.1:8000"
LITELLM = "http://127.0.0.1:4000"
WEB = "http://127.0.0.1:8080"
PORTS = {"gateway": 8000, "litellm": 4000, "demo MCP server": 8001, "web client": 8080}
FAKE_MODEL_PORT = 9100
#: What `make run-demo` starts beside the stack of `make run`.
DEMO_PORTS = {"fake model": FAKE_MODEL_PORT, "demo A2A agent": 8002}
#: A first run installs uv, the app's environment and LiteLLM's (uv's cache makes it quick).
COME_UP_SECONDS = 420
STAY_UP_SECONDS = 20
STOP_SECONDS = 10
#: What a user's shell has that the test runner's environment should not pass on.
RUNNER_ONLY = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "LITELLM_BIN", "PYTEST_CURRENT_TEST")


@pytest.fixture(scope="module")
def fresh_clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clone of this repository with the working tree's uncommitted changes, and nothing installed."""
    clone = tmp_path_factory.mktemp("quick-start") / "reasoning-agent-api"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(REPO), str(clone)], check=True)
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=REPO, check=True, capture_output=True).stdout
    if diff:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=clone, input=diff, check=True)
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout
    for name in filter(None, untracked.decode().split("\0")):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_bytes((REPO / name).read_bytes())
    for installed in (".env", ".venv", ".tools"):
        assert not (clone / installed).exists(), installed
    return clone


class Stack:
    """`make <target>` in its own process group, as a terminal runs it, with its output in a file."""

    def __init__(self, clone: Path, target: str, log_path: Path) -> None:
        self.target = target
        self.log_path = log_path
        env = {key: value for key, value in os.environ.items() if key not in RUNNER_ONLY}
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            ["make", target], cwd=clone, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.seen: set[int] = set()

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def remember_processes(self) -> set[int]:
        """Every live process started under `make` (honcho gives each service its own session)."""
        self.seen |= descendants(self.process.pid)
        return self.seen

    def wait_until_up(self, urls: dict[str, str]) -> None:
        deadline = time.monotonic() + COME_UP_SECONDS
        waiting = dict(urls)
        while waiting:
            assert self.alive(), f"`make {self.target}` exited with {self.process.returncode}:\n{self.logs()[-6000:]}"
            assert time.monotonic() < deadline, (
                f"not up within {COME_UP_SECONDS}s: {sorted(waiting)}\n{self.logs()[-6000:]}"
            )
            for name, url in list(waiting.items()):
                try:
                    if httpx.get(url, timeout=2).status_code < 500:
                        del waiting[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.5)
        self.remember_processes()

    def stay_up(self, seconds: float) -> None:
        """The whole stack is still there after `seconds`: the failure this file was written for
        was a stack that answered /health and stopped 15 s later."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            assert self.alive(), f"`make {self.target}` stopped by itself:\n{self.logs()[-6000:]}"
            time.sleep(1)
        stopped = re.findall(r"(\S+) stopped \(rc=", self.logs())
        assert not stopped, f"these services stopped while the stack ran: {stopped}\n{self.logs()[-6000:]}"
        self.remember_processes()

    def ctrl_c(self) -> float:
        """SIGINT to the process group, as Ctrl-C in a terminal; how long until every process was gone."""
        processes = self.remember_processes()
        started = time.monotonic()
        os.killpg(self.process.pid, signal.SIGINT)
        deadline = started + STOP_SECONDS
        while time.monotonic() < deadline and (self.alive() or live(processes)):
            time.sleep(0.1)
        took = time.monotonic() - started
        left = live(processes)
        for pid in left:
            os.kill(pid, signal.SIGKILL)
        self._log.close()
        assert not left, f"still running {STOP_SECONDS}s after Ctrl-C: {left}\n{self.logs()[-4000:]}"
        assert not self.alive()
        return took

    def kill(self) -> None:
        for pid in live(self.remember_processes()):
            os.kill(pid, signal.SIGKILL)
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def descendants(root: int) -> set[int]:
    """The live descendants of `root`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def live(pids: set[int]) -> list[int]:
    """Those of `pids` that still run (a zombie has finished: only its parent has yet to read it)."""
    running = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.append(pid)
    return sorted(running)


def assert_ports_free(ports: dict[str, int]) -> None:
    for name, port in ports.items():
        with socket.socket() as sock:
            taken = sock.connect_ex(("127.0.0.1", port)) == 0
        assert not taken, f"port {port} ({name}) is taken: stop what runs there (a `make run` of yours?)"


@pytest.fixture
def stack(fresh_clone: Path, tmp_path: Path) -> Iterator[callable]:
    started: list[Stack] = []

    def start(target: str) -> Stack:
        (fresh_clone / ".env").unlink(missing_ok=True)
        assert_ports_free(ports_of(target))
        started.append(Stack(fresh_clone, target, tmp_path / f"make-{target}.log"))
        return started[-1]

    yield start
    for running in started:
        running.kill()
        print(f"--- make {running.target} ---\n{running.logs()[-3000:]}")


def services(demo: bool) -> dict[str, str]:
    urls = {
        "gateway": f"{GATEWAY}/health/ready",
        "litellm": f"{LITELLM}/health/readiness",
        "demo MCP server": "http://127.0.0.1:8001/mcp",
        "web client": f"{WEB}/",
    }
    demo_urls = {
        "fake model": f"http://127.0.0.1:{FAKE_MODEL_PORT}/health",
        "demo A2A agent": "http://127.0.0.1:8002/.well-known/agent-card.json",  # config/agents.yaml
    }
    return urls | (demo_urls if demo else {})


def ports_of(target: str) -> dict[str, int]:
    return PORTS | (DEMO_PORTS if target == "run-demo" else {})


def assert_stopped_cleanly(stack: Stack, took: float) -> None:
    logs = stack.logs()
    print(f"make {stack.target}: every process gone {took:.1f}s after Ctrl-C")
    # Our own processes print no traceback (LiteLLM prints one per failed call, e.g. no key).
    ours_pattern = re.compile(r"\S+ (api|web|mcp-demo|a2a-demo|fake-model|system) +\|")
    ours = [line for line in logs.splitlines() if ours_pattern.match(line)]
    assert not [line for line in ours if "Traceback" in line], logs[-6000:]
    # honcho SIGKILLs what has not stopped 5 s after its SIGTERM: a clean stop needs none.
    assert "rc=-9" not in logs, logs[-4000:]
    # Make itself dies by the SIGINT it was sent (as every make target does on Ctrl-C); the
    # runner under it exits 0, so make reports no error of its own.
    assert stack.process.returncode in (0, -signal.SIGINT), (stack.process.returncode, logs[-4000:])
    assert not re.search(r"make: \*\*\* .* Error", logs), logs[-4000:]
    assert_ports_free(ports_of(stack.target))


def test_make_run_demo_comes_up_stays_up_answers_and_stops_on_ctrl_c(stack, page: Page) -> None:
    demo = stack("run-demo")
    demo.wait_until_up(services(demo=True))
    demo.stay_up(STAY_UP_SECONDS)

    client = openai.OpenAI(base_url=f"{GATEWAY}/v1", api_key="any-token-when-auth-is-off", max_retries=0)
    hello = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello!"}])
    assert hello.choices[0].message.content

    question = "What is the weather in Paris, in Fahrenheit?"
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        stream=True,
        extra_headers={"X-Routing-Mode": "reasoning"},
    )
    events, answer = [], ""
    for chunk in stream:
        delta = chunk.choices[0].delta if chunk.choices else None
        if delta is None:
            continue
        event = (delta.model_extra or {}).get("reasoning_event")
        if event:
            events.append(event)
        answer += delta.content or ""
    results = [r for event in events if event["type"] == "tool_result" for r in event["metadata"]["tool_results"]]
    weather = [r for r in results if r["tool_name"] == "get_weather"]
    assert weather, f"the demo agent looked up no weather: {events}"
    assert all(r["success"] for r in weather), weather
    assert "°F" in answer, answer
    assert "Echo:" not in answer, answer

    models = {model.id for model in client.models.list()}
    assert {"gpt-4o", "gpt-4o-mini", "reasoning/gpt-4o-mini", "auto/gpt-4o-mini"} <= models
    assert "needs-openai-key" not in models, "a test-only model is in the demo's list"

    # The web client, in a real browser: the same question, answered on the page.
    open_chat(page, SimpleNamespace(url=WEB), mode="reasoning", model="gpt-4o-mini")
    turn = send(page, question)
    expect(turn).to_have_attribute("data-state", "done", timeout=60_000)
    expect(turn.get_by_test_id("tool-call").first).to_have_attribute("data-tool", "get_weather")
    expect(turn.get_by_test_id("answer")).to_contain_text("°F")
    page.screenshot(path=ARTIFACTS / "quick-start-demo-desktop.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=ARTIFACTS / "quick-start-demo-phone.png")

    demo.stay_up(1)
    # LiteLLM exports spans only to a Phoenix that runs: with none installed, no export errors.
    litellm_lines = [line for line in demo.logs().splitlines() if " litellm " in line[:20]]
    failures = [line for line in litellm_lines if re.search(r"(?i)export|connection refused|6006", line)]
    assert not failures, failures[:5]
    assert_stopped_cleanly(demo, demo.ctrl_c())


def test_make_run_without_a_key_stays_up_and_says_which_key_to_set(stack) -> None:
    run = stack("run")
    run.wait_until_up(services(demo=False))
    run.stay_up(STAY_UP_SECONDS)
    assert "OPENAI_API_KEY is not set" in run.logs()

    answer = httpx.post(
        f"{GATEWAY}/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}]},
        timeout=60,
    )
    assert answer.status_code == 502, answer.text
    error = answer.json()["error"]
    assert error["code"] == "upstream_auth_error", error
    assert "OPENAI_API_KEY" in error["message"], error

    run.stay_up(1)
    assert_stopped_cleanly(run, run.ctrl_c())
