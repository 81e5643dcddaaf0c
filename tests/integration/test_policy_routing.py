"""Policy routing through the real LiteLLM proxy, with the shipped sample policy
(config/routing_policy.example.yaml) and the openai SDK as the client.

LiteLLM serves the "cloud" models from the session's fake model and `local-llama` from a
fake of its own (tests/support/litellm_policy_config.yaml), so each test can see which
deployment every call of a request reached: a sensitive prompt must reach only the local one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import OPS_HEADERS, TOKEN, Gateway, gateway_env, launch_gateway_process, start_litellm
from tests.integration.test_litellm_resilience import start_fake
from tests.support.fake_upstream import FakeUpstream
from tests.support.processes import REPO, free_port

CONFIG = REPO / "tests" / "support" / "litellm_policy_config.yaml"
POLICY = REPO / "config" / "routing_policy.example.yaml"
FIELDS = ("route_policy", "requested_model", "model", "route_path", "route_reason", "status", "http_status")


@dataclass
class Stack:
    gateway: Gateway
    litellm_url: str
    cloud: FakeUpstream
    local: FakeUpstream

    def client(self) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.gateway.base_url, api_key=TOKEN, max_retries=0)


@pytest.fixture(scope="module")
def stack(fake_upstream: FakeUpstream, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    local = start_fake(logs_dir, "fake-local")
    litellm = start_litellm(
        "litellm-policy",
        fake_upstream,
        logs_dir,
        f"http://127.0.0.1:{free_port()}/v1/traces",
        config=CONFIG,
        extra_env={"FAKE_LOCAL_BASE_URL": local.url + "/v1"},
    )
    gateway = launch_gateway_process(
        litellm.url,
        "gateway-policy",
        logs_dir / "gateway-policy.log",
        tmp_path_factory.mktemp("policy"),
        routing_policy_config=POLICY,
        auto_routing_targets="passthrough,reasoning",
    )
    yield Stack(gateway, litellm.url, fake_upstream, FakeUpstream(local.url))
    for process in (gateway.process, litellm, local):
        process.stop()


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def outcome(stack: Stack, request_id: str) -> dict:
    row = stack.gateway.audit_row(request_id)
    return {name: row[name] for name in FIELDS}


@pytest.mark.parametrize("stream", [False, True])
def test_a_sensitive_passthrough_prompt_reaches_only_the_local_model(stack: Stack, stream: bool) -> None:
    tag = marker()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(f"Summarise the patient's chart {tag}"), stream=stream
    )
    if stream:
        text = "".join(chunk.choices[0].delta.content or "" for chunk in raw.parse() if chunk.choices)
    else:
        text = raw.parse().choices[0].message.content or ""
    headers = {name: raw.headers.get(name) for name in ("x-routing-policy", "x-routing-model", "x-routing-path")}
    local, cloud = stack.local.requests_with(tag), stack.cloud.requests_with(tag)
    row = outcome(stack, raw.headers["x-request-id"])
    print(f"stream={stream}: {headers}; local fake {len(local)} call(s), cloud fake {len(cloud)}; row {row}")
    assert tag in text
    assert headers == {
        "x-routing-policy": "sensitive_local",
        "x-routing-model": "local-llama",
        "x-routing-path": "passthrough",
    }
    assert (len(local), len(cloud)) == (1, 0)
    assert row["route_policy"] == "sensitive_local"
    assert (row["requested_model"], row["model"]) == ("gpt-4o", "local-llama")


def test_every_call_of_a_sensitive_reasoning_request_goes_to_the_local_model(stack: Stack) -> None:
    tag = marker()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="reasoning/gpt-4o", messages=ask(f"What does this diagnosis mean? {tag}"), stream=True
    )
    events = list(raw.parse())
    local, cloud = stack.local.requests_with(tag), stack.cloud.requests_with(tag)
    row = outcome(stack, raw.headers["x-request-id"])
    print(f"reasoning: {len(events)} chunks; local fake {len(local)} call(s), cloud fake {len(cloud)}; row {row}")
    assert len(local) >= 2  # the steps and the answer
    assert cloud == []
    assert (row["route_path"], row["route_policy"], row["model"]) == ("reasoning", "sensitive_local", "local-llama")


def test_a_sensitive_auto_conversation_is_classified_by_the_local_model_too(stack: Stack) -> None:
    tag = marker()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(f"patient {tag}: next steps?"), extra_headers={"X-Routing-Mode": "auto"}
    )
    local, cloud = stack.local.requests_with(tag), stack.cloud.requests_with(tag)
    classified = [r for r in local if (r["body"].get("response_format") or {}).get("type") == "json_schema"]
    print(f"auto: reason {raw.headers['x-routing-reason']}; local {len(local)} call(s) ({len(classified)} classifier)")
    assert cloud == []
    assert len(classified) == 1
    # The local classifier is scripted to choose passthrough, the cloud one reasoning: it was the local one.
    assert raw.headers["x-routing-reason"] == "auto_passthrough"
    assert outcome(stack, raw.headers["x-request-id"])["route_policy"] == "sensitive_local"


def test_an_ordinary_auto_conversation_stays_on_the_cloud_models(stack: Stack) -> None:
    tag = marker()
    raw = stack.client().chat.completions.with_raw_response.create(
        model="gpt-4o", messages=ask(f"weather {tag}?"), extra_headers={"X-Routing-Mode": "auto"}
    )
    assert raw.headers["x-routing-reason"] == "auto_reasoning"
    assert "x-routing-policy" not in raw.headers
    assert stack.local.requests_with(tag) == []
    assert outcome(stack, raw.headers["x-request-id"])["route_policy"] is None


def test_a_large_prompt_goes_to_the_cheaper_model(stack: Stack) -> None:
    tag = marker()
    big = f"{tag} " + "lorem ipsum " * 7000  # ~84k characters: ~21k tokens by the estimate
    raw = stack.client().chat.completions.with_raw_response.create(model="gpt-4o", messages=ask(big))
    sent = stack.cloud.request_with(tag)
    print(f"large prompt: {raw.headers['x-routing-policy']} → {raw.headers['x-routing-model']}")
    assert (raw.headers["x-routing-policy"], raw.headers["x-routing-model"]) == ("large_prompt", "gpt-4o-mini")
    assert sent["body"]["model"] == "fake-model+choose=reasoning"  # LiteLLM's gpt-4o-mini deployment
    assert outcome(stack, raw.headers["x-request-id"])["model"] == "gpt-4o-mini"


def test_a_refusal_rule_answers_403_in_the_openai_shape(stack: Stack) -> None:
    tag = marker()
    secret = f"{tag} -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXktdjEA"
    with pytest.raises(openai.PermissionDeniedError) as refused:
        stack.client().chat.completions.create(model="gpt-4o", messages=ask(secret))
    error = refused.value.body
    print(f"403: {error}; headers x-routing-policy={refused.value.response.headers.get('x-routing-policy')}")
    assert refused.value.status_code == 403
    assert isinstance(error, dict)
    assert (error["type"], error["code"]) == ("permission_error", "policy_refused")
    assert "'private_key'" in error["message"]
    assert "BEGIN" not in error["message"]
    assert refused.value.response.headers["x-routing-policy"] == "private_key"
    assert stack.local.requests_with(tag) == stack.cloud.requests_with(tag) == []
    row = outcome(stack, refused.value.response.headers["x-request-id"])
    assert (row["route_policy"], row["status"], row["http_status"]) == ("private_key", "error", 403)


def test_the_metric_the_routes_and_the_log_name_rules_never_their_text(stack: Stack) -> None:
    tag = marker()
    stack.client().chat.completions.create(model="gpt-4o", messages=ask(f"prescription {tag}"))
    metrics = httpx.get(stack.gateway.url + "/metrics", headers=OPS_HEADERS, timeout=10).text
    public = httpx.get(stack.gateway.url + "/v1/routes", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    operator = httpx.get(stack.gateway.url + "/v1/routes", headers=OPS_HEADERS).json()
    counted = [line for line in metrics.splitlines() if line.startswith("routing_policy_total")]
    print(f"{counted}\npublic /v1/routes model_policy: {public['model_policy']['rules'][1]}")
    assert any(line.startswith('routing_policy_total{rule="sensitive_local"}') for line in counted)
    assert public["model_policy"]["rules"][1]["when"]["terms"] == "4 term(s), hidden"
    assert "prescription" in operator["model_policy"]["rules"][1]["when"]["terms"]
    log = stack.gateway.process.logs()
    assert "route_policy" in log or "sensitive_local" in log
    assert tag not in log
    assert "prescription" not in log.replace(str(POLICY), "")


def test_a_policy_naming_a_model_litellm_does_not_serve_stops_the_gateway(stack: Stack, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {name: ghost, action: use_model, model: ghost-model}\n")
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(free_port())]
    environment = {k: v for k, v in gateway_env(stack.litellm_url, routing_policy_config=policy).items() if v}
    environment["PATH"] = os.environ["PATH"]
    run = subprocess.run(command, env=environment, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = run.stdout + run.stderr  # the log goes to stdout, uvicorn's own lines to stderr
    print(output.strip().splitlines()[-1])
    assert run.returncode != 0
    assert "['ghost-model'], which the upstream does not serve" in output
