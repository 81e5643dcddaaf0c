"""Run the local stack as one supervised group: prefixed, interleaved logs; Ctrl-C stops all.

    python scripts/run_stack.py          LiteLLM (:4000, config/litellm_config.yaml), the demo MCP
                                          server (:8001), the API (:8000), the web client (:8080),
                                          + Phoenix (:6006) when installed (`make install-phoenix`)
    python scripts/run_stack.py --demo   the same, with LiteLLM pointed at the fake model (:9100),
                                          so everything works without any provider key, and the
                                          demo A2A agent (:8002) that config/agents.yaml lists

With Phoenix installed, the API and LiteLLM export their spans to it (one trace tree per
request) unless .env points them elsewhere; Phoenix starts with every outbound feature
off and keeps its SQLite database under data/phoenix. Without Phoenix (and no collector
in .env), LiteLLM runs with its Phoenix callback removed, so it logs no export errors.

Supervision is honcho's (a Procfile runner); this script only decides which processes
run and with which environment. No process reads another's settings by accident: each
gets an explicit environment and runs in a working directory of its own under data/,
where no project `.env` is found. LiteLLM also runs with `LITELLM_MODE=PRODUCTION`,
which turns off its own `load_dotenv()`: that search starts from LiteLLM's installed
package (inside .tools/, so inside this repository) and found the gateway's `.env`,
whose `DATABASE_URL=sqlite+...` LiteLLM refused, stopping the whole stack. Only the API
(Settings) and the web client (WEB_CLIENT_*) read `.env`, from the repository.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

import yaml
from dotenv import dotenv_values
from honcho.manager import Manager

REPO = Path(__file__).resolve().parents[1]
LITELLM_BIN = REPO / ".tools" / "litellm" / "bin" / "litellm"
PHOENIX_BIN = REPO / ".tools" / "phoenix" / "bin" / "phoenix"
DATA = REPO / "data"
DEFAULT_FAKE_MODEL_PORT = 9100
# The demo A2A agent (make run-demo); config/agents.yaml lists it on this port, and the demo
# gives the API a copy that names DEMO_A2A_PORT instead.
DEFAULT_DEMO_A2A_PORT = 8002
DEMO_AGENT = "demo-a2a"
PHOENIX_URL = "http://127.0.0.1:6006"
# Phoenix reaches for the internet at start-up (fonts, sandboxes, an assistant, telemetry)
# unless told not to.
PHOENIX_OFFLINE = {
    "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
    "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    "PHOENIX_TELEMETRY_ENABLED": "false",
}
# What LiteLLM may read from .env: its own keys, and where to send its spans.
LITELLM_VARS = ("OPENAI_API_KEY", "LITELLM_MASTER_KEY", "PHOENIX_COLLECTOR_HTTP_ENDPOINT", "PHOENIX_PROJECT_NAME")
# What the runner itself reads from .env (or the shell).
RUNNER_VARS = ("FAKE_MODEL_PORT", "DEMO_A2A_PORT")
PHOENIX_CALLBACK = "litellm_phoenix.phoenix_logger"  # config/litellm_phoenix.py
#: The longest shutdown drain under `make run` (the default, 20 s, is for deployments).
LOCAL_DRAIN_SECONDS = 2.0
# What honcho's Manager reports after it was told to stop by SIGINT / SIGTERM.
STOP_SIGNAL_CODES = (130, 143)


def load_env() -> dict[str, str]:
    values = {k: v for k, v in dotenv_values(REPO / ".env").items() if v is not None}
    wanted = set(LITELLM_VARS) | set(RUNNER_VARS)
    return {**values, **{k: v for k, v in os.environ.items() if k in values or k in wanted}}


def fake_model_port(env: dict[str, str]) -> int:
    """FAKE_MODEL_PORT (.env or the shell), else 9100."""
    return port_setting(env, "FAKE_MODEL_PORT", DEFAULT_FAKE_MODEL_PORT)


def demo_a2a_port(env: dict[str, str]) -> int:
    """DEMO_A2A_PORT (.env or the shell), else 8002."""
    return port_setting(env, "DEMO_A2A_PORT", DEFAULT_DEMO_A2A_PORT)


def demo_agents_config(source: dict, port: int) -> dict:
    """config/agents.yaml with the demo agent's card on `port` (DEMO_A2A_PORT); the others as they are."""
    agents = [
        {**agent, "url": agent["url"].replace(f":{DEFAULT_DEMO_A2A_PORT}/", f":{port}/")}
        if agent.get("name") == DEMO_AGENT
        else agent
        for agent in source.get("agents") or []
    ]
    return {**source, "agents": agents}


def user_setting(env: dict[str, str], name: str) -> str | None:
    """What the user set: the shell first, then .env."""
    return os.environ.get(name) or env.get(name)


def write_copy(path: Path, source: Path, config: dict) -> Path:
    """`config`, derived from the file `source`, written to `path` with a line saying so."""
    path.write_text(
        f"# Written by scripts/run_stack.py from {source.relative_to(REPO)}\n" + yaml.safe_dump(config, sort_keys=False)
    )
    return path


def port_setting(env: dict[str, str], name: str, default: int) -> int:
    value = env.get(name) or str(default)
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SystemExit(f"error: {name}={value!r} is not a port number")
    return int(value)


def litellm_config(source: dict, *, export_spans: bool) -> dict:
    """The LiteLLM config to run: `source` as it is, or without the Phoenix callback when no
    collector listens (LiteLLM would log a failed export for every request)."""
    if export_spans:
        return source
    settings = dict(source.get("litellm_settings") or {})
    settings["callbacks"] = [name for name in settings.get("callbacks") or [] if name != PHOENIX_CALLBACK]
    return {**source, "litellm_settings": settings}


def local_drain_seconds(configured: str | None) -> str:
    """The API's shutdown drain under honcho, which SIGKILLs what still runs 5 s after Ctrl-C:
    the configured drain (.env.dev.example says 20 s, for deployments) capped to fit inside."""
    try:
        return str(min(float(configured), LOCAL_DRAIN_SECONDS)) if configured else str(LOCAL_DRAIN_SECONDS)
    except ValueError:
        return configured  # the API's Settings rejects it with a message naming the variable


def workdir(name: str) -> Path:
    """data/<name>: a process's own working directory, with no `.env` in it."""
    path = DATA / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "TERM", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
    return {k: os.environ[k] for k in keep if k in os.environ} | {"PYTHONUNBUFFERED": "1"}


def web_client_env(env: dict[str, str]) -> dict[str, str]:
    """The derived settings of the web client: its gateway token, and open (no login) unless a password is set.

    Open is safe here: the web client listens on 127.0.0.1, and refuses to start open elsewhere.
    """
    derived = {"WEB_CLIENT_API_TOKEN": web_client_token(env)}
    if not env.get("WEB_CLIENT_OPEN"):
        derived["WEB_CLIENT_OPEN"] = "false" if env.get("WEB_CLIENT_PASSWORD") else "true"
    return derived


def web_client_token(env: dict[str, str]) -> str:
    """The token the web client sends: WEB_CLIENT_API_TOKEN, else the gateway's first API_TOKENS entry.

    So the page works whether the local gateway requires auth or not, with nothing to copy.
    """
    tokens = [token.strip() for token in env.get("API_TOKENS", "").split(",") if token.strip()]
    return env.get("WEB_CLIENT_API_TOKEN") or (tokens[0] if tokens else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", action="store_true", help="serve every model from the fake upstream")
    args = parser.parse_args()
    env = load_env()
    manager = Manager()
    venv_bin = Path(sys.executable).parent

    litellm_env = (
        base_env()
        | {k: env[k] for k in LITELLM_VARS if env.get(k)}
        | {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"}
        # It runs a copy of its config from its work directory: its Phoenix callback's module
        # (config/litellm_phoenix.py) is imported from config/ instead.
        | {"PYTHONPATH": str(REPO / "config")}
    )
    config_path = REPO / "config" / "litellm_config.yaml"
    if args.demo:
        config_path = REPO / "config" / "litellm_demo_config.yaml"
        port = fake_model_port(env)
        litellm_env["FAKE_UPSTREAM_BASE_URL"] = f"http://127.0.0.1:{port}/v1"
        manager.add_process(
            "fake-model",
            f"{venv_bin / 'python'} {REPO / 'scripts' / 'fake_upstream.py'} --port {port}",
            env=base_env(),
            cwd=str(workdir("fake-model")),
        )
        # The remote A2A agent of config/agents.yaml (used with ORCHESTRATION_ENABLED=true).
        manager.add_process(
            "a2a-demo",
            f"{venv_bin / 'python'} {REPO / 'scripts' / 'demo_a2a_agent.py'} --port {demo_a2a_port(env)}",
            env=base_env(),
            cwd=str(workdir("a2a-demo")),
        )
    elif not env.get("OPENAI_API_KEY"):
        print(
            "warning: OPENAI_API_KEY is not set in .env — the stack starts, but chat requests will answer 502 "
            "until you set it (or try `make run-demo`, which needs no key).",
            file=sys.stderr,
        )
    if not env.get("LITELLM_MASTER_KEY"):
        print("error: LITELLM_MASTER_KEY is not set in .env (see .env.dev.example)", file=sys.stderr)
        return 2

    # The API reads .env itself (Settings); it gets the environment the user ran us with, with
    # the app's environment first on PATH so stdio MCP servers installed there are found.
    api_path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    api_env = {**os.environ, "PATH": api_path, "PYTHONUNBUFFERED": "1"}
    api_env["SHUTDOWN_DRAIN_SECONDS"] = local_drain_seconds(user_setting(env, "SHUTDOWN_DRAIN_SECONDS"))
    if args.demo and not user_setting(env, "ROUTING_POLICY_CONFIG"):
        # The demo shows policy routing too: its local-llama is the fake model.
        api_env["ROUTING_POLICY_CONFIG"] = str(REPO / "config" / "routing_policy.example.yaml")
    if args.demo and not user_setting(env, "ORCHESTRATION_AGENTS_CONFIG"):
        # The demo agent runs on DEMO_A2A_PORT: the API's agents file must say that port.
        source = REPO / "config" / "agents.yaml"
        agents = demo_agents_config(yaml.safe_load(source.read_text()), demo_a2a_port(env))
        api_env["ORCHESTRATION_AGENTS_CONFIG"] = str(write_copy(workdir("api") / "agents.yaml", source, agents))
    if PHOENIX_BIN.exists():
        add_phoenix(manager, env, litellm_env, api_env)
    else:
        print("note: Phoenix is not installed; `make install-phoenix` adds traces at :6006.", file=sys.stderr)

    litellm_dir = workdir("litellm")
    config = litellm_config(
        yaml.safe_load(config_path.read_text()), export_spans="PHOENIX_COLLECTOR_HTTP_ENDPOINT" in litellm_env
    )
    write_copy(litellm_dir / "config.yaml", config_path, config)
    manager.add_process(
        "litellm",
        f"{LITELLM_BIN} --config {litellm_dir / 'config.yaml'} --host 127.0.0.1 --port 4000",
        env=litellm_env,
        cwd=str(litellm_dir),
    )
    manager.add_process(
        "mcp-demo",
        f"{venv_bin / 'python'} {REPO / 'scripts' / 'demo_mcp_server.py'} --port 8001",
        env=base_env(),
        cwd=str(workdir("mcp-demo")),
    )
    manager.add_process(
        "api",
        f"{venv_bin / 'uvicorn'} --factory api.main:create_app --host 127.0.0.1 --port 8000"
        " --timeout-keep-alive 75 --timeout-graceful-shutdown 5",
        env=api_env,
        cwd=str(REPO),
    )
    # The web client reads its WEB_CLIENT_* settings from .env itself; only the token and OPEN are derived.
    manager.add_process(
        "web",
        f"{venv_bin / 'python'} -m web_client",
        env={**os.environ, "PYTHONUNBUFFERED": "1", **web_client_env(env | dict(os.environ))},
        cwd=str(REPO),
    )
    manager.loop()
    return exit_code(manager.returncode)


def exit_code(returncode: int | None) -> int:
    """0 when the user stopped the stack (Ctrl-C, SIGTERM); else the code of the first process to stop.

    honcho reports its own stop signal as 130/143, which would make every Ctrl-C look like a crash.
    """
    return 0 if returncode in (None, *STOP_SIGNAL_CODES) else returncode


def add_phoenix(manager: Manager, env: dict[str, str], litellm_env: dict[str, str], api_env: dict[str, str]) -> None:
    """Run Phoenix on :6006 and send the API's and LiteLLM's spans to it (unless .env says otherwise)."""
    working_dir = workdir("phoenix")
    phoenix_env = (
        base_env()
        | PHOENIX_OFFLINE
        | {
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": "6006",
            "PHOENIX_WORKING_DIR": str(working_dir),
            "PHOENIX_DB_LOGGING_LEVEL": "warning",
        }
    )
    # Its first start runs ~5,000 lines of migration SQL (and every start some more lines):
    # all of it goes to its own log, not into the stack's console.
    log = working_dir / "phoenix.log"
    command = f"exec {shlex.quote(str(PHOENIX_BIN))} serve >> {shlex.quote(str(log))} 2>&1"
    manager.add_process("phoenix", command, env=phoenix_env, cwd=str(working_dir))
    print(f"phoenix: traces at {PHOENIX_URL}, its log in {log}", file=sys.stderr)
    endpoints = ("PHOENIX_COLLECTOR_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    if not any(env.get(name) or os.environ.get(name) for name in endpoints):
        api_env["PHOENIX_COLLECTOR_ENDPOINT"] = PHOENIX_URL
    litellm_env.setdefault("PHOENIX_COLLECTOR_HTTP_ENDPOINT", f"{PHOENIX_URL}/v1/traces")
    # One project for both, or the trace tree is split between two Phoenix projects.
    project = env.get("PHOENIX_PROJECT_NAME") or "default"
    api_env.setdefault("PHOENIX_PROJECT_NAME", project)
    litellm_env["PHOENIX_PROJECT_NAME"] = project


if __name__ == "__main__":
    sys.exit(main())
