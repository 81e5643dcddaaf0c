"""`make run` (scripts/run_stack.py): the web client's token, the fake model's port, LiteLLM's config."""

from __future__ import annotations

import importlib.util
import subprocess

import pytest
import yaml

from api.policy.config import load_routing_policy
from tests.support.processes import REPO

spec = importlib.util.spec_from_file_location("run_stack", REPO / "scripts" / "run_stack.py")
run_stack = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_stack)


def test_the_web_client_uses_its_own_token_when_set():
    assert run_stack.web_client_token({"WEB_CLIENT_API_TOKEN": "mine", "API_TOKENS": "a,b"}) == "mine"


def test_else_the_gateways_first_token():
    assert run_stack.web_client_token({"WEB_CLIENT_API_TOKEN": "", "API_TOKENS": " a , b"}) == "a"


def test_no_token_when_the_gateway_has_none():
    assert run_stack.web_client_token({"API_TOKENS": ""}) == ""


def test_make_run_runs_the_web_client_open_on_loopback_unless_a_password_is_set():
    assert run_stack.web_client_env({})["WEB_CLIENT_OPEN"] == "true"
    assert run_stack.web_client_env({"WEB_CLIENT_PASSWORD": "pw"})["WEB_CLIENT_OPEN"] == "false"
    assert "WEB_CLIENT_OPEN" not in run_stack.web_client_env({"WEB_CLIENT_OPEN": "false"})  # .env decides


def test_the_fake_models_port_is_a_setting():
    assert run_stack.fake_model_port({}) == 9100
    assert run_stack.fake_model_port({"FAKE_MODEL_PORT": "9300"}) == 9300
    with pytest.raises(SystemExit, match="FAKE_MODEL_PORT"):
        run_stack.fake_model_port({"FAKE_MODEL_PORT": "nine"})


def test_the_demo_a2a_agents_port_is_a_setting_and_the_one_config_agents_yaml_lists():
    assert run_stack.demo_a2a_port({}) == 8002
    assert run_stack.demo_a2a_port({"DEMO_A2A_PORT": "8102"}) == 8102
    with pytest.raises(SystemExit, match="DEMO_A2A_PORT"):
        run_stack.demo_a2a_port({"DEMO_A2A_PORT": "x"})
    listed = yaml.safe_load((REPO / "config" / "agents.yaml").read_text())["agents"]
    assert f"127.0.0.1:{run_stack.DEFAULT_DEMO_A2A_PORT}/" in listed[0]["url"]


def test_the_demo_gives_the_api_the_demo_agent_on_demo_a2a_port():
    source = yaml.safe_load((REPO / "config" / "agents.yaml").read_text())
    source["agents"].append({"name": "elsewhere", "url": "http://10.0.0.9:8002/.well-known/agent-card.json"})
    moved = run_stack.demo_agents_config(source, 8102)["agents"]
    assert moved[0]["name"] == run_stack.DEMO_AGENT
    assert moved[0]["url"] == "http://127.0.0.1:8102/.well-known/agent-card.json"
    assert moved[1] == source["agents"][1]  # another agent on the same port number is left alone
    assert run_stack.demo_agents_config(source, run_stack.DEFAULT_DEMO_A2A_PORT) == source


@pytest.mark.parametrize("name", ["litellm_config.yaml", "litellm_demo_config.yaml"])
def test_litellm_exports_spans_only_when_a_collector_listens(name):
    source = yaml.safe_load((REPO / "config" / name).read_text())
    assert run_stack.PHOENIX_CALLBACK in source["litellm_settings"]["callbacks"]
    assert run_stack.litellm_config(source, export_spans=True) == source
    quiet = run_stack.litellm_config(source, export_spans=False)
    assert run_stack.PHOENIX_CALLBACK not in quiet["litellm_settings"]["callbacks"]
    assert quiet["model_list"] == source["model_list"]
    assert run_stack.PHOENIX_CALLBACK in source["litellm_settings"]["callbacks"], "the source config is not changed"


def test_the_demo_lists_no_test_only_models_and_every_model_its_routing_policy_names():
    demo = yaml.safe_load((REPO / "config" / "litellm_demo_config.yaml").read_text())
    served = {model["model_name"] for model in demo["model_list"]}
    assert served == {"gpt-4o", "gpt-4o-mini", "local-llama"}
    # make run-demo applies the sample policy: a model it names but LiteLLM lacks stops the gateway.
    assert load_routing_policy(REPO / "config" / "routing_policy.example.yaml").models <= served


def test_a_stop_the_user_asked_for_exits_zero_and_a_crash_does_not():
    assert run_stack.exit_code(130) == 0  # Ctrl-C
    assert run_stack.exit_code(143) == 0  # SIGTERM
    assert run_stack.exit_code(1) == 1  # a process died on its own: the stack stopped because of it


def test_the_apis_drain_fits_inside_honchos_five_seconds():
    assert run_stack.local_drain_seconds(None) == "2.0"
    assert run_stack.local_drain_seconds("20") == "2.0"  # .env.dev.example's deployment value
    assert run_stack.local_drain_seconds("0.5") == "0.5"
    assert run_stack.local_drain_seconds("soon") == "soon"  # left for Settings to refuse by name


def test_phoenix_writes_its_output_to_its_own_log_and_the_console_says_where(tmp_path, monkeypatch, capfd):
    fake = tmp_path / "phoenix"
    fake.write_text("#!/bin/sh\necho 'INFO sqlalchemy.engine.Engine CREATE TABLE spans'\n")
    fake.chmod(0o755)
    monkeypatch.setattr(run_stack, "DATA", tmp_path / "data")
    monkeypatch.setattr(run_stack, "PHOENIX_BIN", fake)
    added: dict[str, tuple[str, str]] = {}

    class Manager:
        def add_process(self, name: str, command: str, env: dict, cwd: str) -> None:
            added[name] = (command, cwd)

    run_stack.add_phoenix(Manager(), {}, {}, {})
    command, cwd = added["phoenix"]
    subprocess.run(command, shell=True, cwd=cwd, check=True)  # as honcho runs it

    out, err = capfd.readouterr()
    log = tmp_path / "data" / "phoenix" / "phoenix.log"
    assert "CREATE TABLE" not in out + err
    assert f"its log in {log}" in err
    assert "CREATE TABLE spans" in log.read_text()
