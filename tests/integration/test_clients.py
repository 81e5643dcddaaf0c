"""Clients through real processes (contract section 10): scopes, models, audit isolation, the keyed
prompt hash, readiness details and LiteLLM's control fields, with the openai SDK as the client and
the real LiteLLM proxy in front of the fake model."""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from api.clients.control_fields import control_fields, is_control_field
from tests.conftest import LITELLM_BIN, OPS_HEADERS, OPS_TOKEN, Gateway, gateway_env, write_mcp_config
from tests.support.processes import free_port

TOKENS = {"ALPHA_TOKEN": "alpha-secret", "BETA_TOKEN": "beta-secret", "STEER_TOKEN": "steer-secret"}
HASH_KEY = "test-hash-key"
CLIENTS = """
clients:
  - name: alpha
    token_env: ALPHA_TOKEN
    models: ["fake-*", "gpt-4o-mini"]
  - name: beta
    token_env: BETA_TOKEN
    scopes: [chat, audit:own]
  - name: steer
    token_env: STEER_TOKEN
    scopes: [chat, upstream:control]
  - name: test-ops
    token_env: TEST_OPS_TOKEN
    scopes: [chat, models, tools, audit:all, usage:all]
"""


def marker() -> str:
    return f"m-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def clients_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clients") / "clients.yaml"
    path.write_text(CLIENTS)
    return path


@pytest.fixture(scope="module")
def mcp_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MCP server that is never there: readiness has a detail to show (or hide)."""
    ghost = {"name": "ghost", "url": f"http://127.0.0.1:{free_port()}/mcp"}
    return write_mcp_config(tmp_path_factory.mktemp("mcp") / "servers.yaml", ghost)


@pytest.fixture
def gateway(start_gateway, clients_file, mcp_config) -> Gateway:
    return start_gateway(clients_config=clients_file, audit_hash_key=HASH_KEY, mcp_servers_config=mcp_config, **TOKENS)


def sdk(gateway: Gateway, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=token, max_retries=0)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def audit(gateway: Gateway, token: str, path: str = "", **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.get(gateway.base_url + "/audit" + path, params=params, headers=headers, timeout=10)


def test_refusals_are_403_in_the_openai_shape_and_the_sdk_raises_permission_denied(gateway):
    beta = sdk(gateway, TOKENS["BETA_TOKEN"])
    with pytest.raises(openai.PermissionDeniedError) as no_scope:
        beta.models.list()
    assert no_scope.value.status_code == 403
    assert (no_scope.value.body["type"], no_scope.value.body["code"]) == ("permission_error", "scope_missing")
    assert "beta" in no_scope.value.body["message"]

    alpha = sdk(gateway, TOKENS["ALPHA_TOKEN"])
    with pytest.raises(openai.PermissionDeniedError) as no_model:
        alpha.chat.completions.create(model="gpt-4o", messages=user("hi"))
    assert (no_model.value.body["code"], no_model.value.body["param"]) == ("model_not_allowed", "model")
    with pytest.raises(openai.PermissionDeniedError):
        alpha.chat.completions.create(model="reasoning/gpt-4o", messages=user("hi"))  # the prefix is no way round
    answer = alpha.chat.completions.create(model="fake-model", messages=user("hi"))
    assert answer.choices[0].message.content == "Echo: hi"

    with pytest.raises(openai.AuthenticationError):
        sdk(gateway, "nobody").models.list()


def test_the_model_list_shows_a_client_only_its_models(gateway):
    mine = sorted(m.id for m in sdk(gateway, TOKENS["ALPHA_TOKEN"]).models.list())
    everyone = sorted(m.id for m in sdk(gateway, OPS_TOKEN).models.list())
    print(f"alpha sees {mine}; the operator sees {everyone}")
    assert mine == ["auto/gpt-4o-mini", "gpt-4o-mini", "reasoning/gpt-4o-mini"]
    assert {"gpt-4o", "reasoning/gpt-4o", "needs-openai-key"} <= set(everyone)


def test_audit_reads_are_scoped_to_the_client(gateway):
    alpha, beta = sdk(gateway, TOKENS["ALPHA_TOKEN"]), sdk(gateway, TOKENS["BETA_TOKEN"])
    tag = marker()
    a = alpha.chat.completions.with_raw_response.create(model="fake-model", messages=user(f"a {tag}"))
    b = beta.chat.completions.with_raw_response.create(model="fake-model", messages=user(f"b {tag}"))
    a_id, b_id = a.headers["x-request-id"], b.headers["x-request-id"]
    assert (gateway.audit_row(a_id)["client"], gateway.audit_row(b_id)["client"]) == ("alpha", "beta")

    own = audit(gateway, TOKENS["BETA_TOKEN"], f"/{b_id}")
    assert own.status_code == 200
    foreign = audit(gateway, TOKENS["BETA_TOKEN"], f"/{a_id}")
    missing = audit(gateway, TOKENS["BETA_TOKEN"], "/no-such-request")
    # Another client's row looks exactly like no row: ids cannot be probed.
    assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "not_found")
    assert foreign.json()["error"]["message"].replace(a_id, "X") == missing.json()["error"]["message"].replace(
        "no-such-request", "X"
    )
    listed = audit(gateway, TOKENS["BETA_TOKEN"], limit="500").json()["data"]
    assert {row["client"] for row in listed} == {"beta"}
    assert b_id in {row["request_id"] for row in listed}
    # Asking for someone else's rows by name gets one's own.
    assert {row["client"] for row in audit(gateway, TOKENS["BETA_TOKEN"], client="alpha").json()["data"]} == {"beta"}

    everyone = {row["request_id"] for row in audit(gateway, OPS_TOKEN, limit="500").json()["data"]}
    assert {a_id, b_id} <= everyone
    only_alpha = audit(gateway, OPS_TOKEN, client="alpha", limit="500").json()["data"]
    assert {row["client"] for row in only_alpha} == {"alpha"}
    # alpha has the default scopes, audit:own among them.
    assert audit(gateway, TOKENS["ALPHA_TOKEN"], f"/{a_id}").status_code == 200
    # steer lacks audit scopes altogether: 403, not 404.
    assert audit(gateway, TOKENS["STEER_TOKEN"], f"/{a_id}").status_code == 403


def test_the_prompt_hash_is_keyed(gateway):
    messages = user(f"my guessable prompt {marker()}")
    raw = sdk(gateway, TOKENS["ALPHA_TOKEN"]).chat.completions.with_raw_response.create(
        model="fake-model", messages=messages
    )
    row = gateway.audit_row(raw.headers["x-request-id"])
    canonical = orjson.dumps(messages, option=orjson.OPT_SORT_KEYS)
    assert row["prompt_sha256"] == hmac.new(HASH_KEY.encode(), canonical, hashlib.sha256).hexdigest()
    assert row["prompt_sha256"] != hashlib.sha256(canonical).hexdigest()  # a guess cannot be confirmed


def test_readiness_shows_internals_only_to_an_operator(gateway):
    operator: dict = {}
    for _ in range(100):  # until the ghost server's first connection attempt has failed
        operator = httpx.get(gateway.url + "/health/ready", headers=OPS_HEADERS, timeout=10).json()
        if operator["components"]["mcp_servers"]["status"] != "ok":
            break
        time.sleep(0.1)
    public = httpx.get(gateway.url + "/health/ready", timeout=10).json()
    print(f"public readiness: {public}\noperator's: {operator}")
    assert "ghost" in operator["components"]["mcp_servers"]["detail"]
    assert public["components"]["mcp_servers"] == {"status": operator["components"]["mcp_servers"]["status"]}
    assert all(set(component) == {"status"} for component in public["components"].values())
    as_alpha = httpx.get(gateway.url + "/health/ready", headers={"Authorization": "Bearer alpha-secret"}).json()
    assert as_alpha["components"] == public["components"]


STEERING = {
    "api_base": "http://127.0.0.1:9/v1",  # would send the call elsewhere
    "mock_response": "mocked by the client",  # would fake the answer without calling the model
    "num_retries": 7,
    "input_cost_per_token": 0,  # would re-price the call
    "metadata": {"tags": ["free-tier"], "user_api_key_alias": "someone-else", "team": "blue"},
}
# A model LiteLLM cannot serve (no provider key) and a client-side fallback that it can.
FALLING_BACK = {"model": "needs-openai-key", "extra_body": {"fallbacks": ["fake-model"]}}


def test_a_plain_clients_fallbacks_do_not_reach_litellm(gateway):
    alpha = sdk(gateway, TOKENS["ALPHA_TOKEN"])
    with pytest.raises(openai.PermissionDeniedError):  # alpha may not even name the model
        alpha.chat.completions.create(messages=user(marker()), **FALLING_BACK)
    beta = sdk(gateway, TOKENS["BETA_TOKEN"])
    with pytest.raises(openai.APIStatusError) as caught:
        beta.chat.completions.create(messages=user(marker()), **FALLING_BACK)
    print(f"beta with fallbacks: {caught.value.status_code} {caught.value.body}")
    assert caught.value.status_code == 502  # the model failed and LiteLLM never heard of the fallback


def test_a_client_with_upstream_control_may_steer_litellm(gateway):
    tag = marker()
    steer = sdk(gateway, TOKENS["STEER_TOKEN"])
    answer = steer.chat.completions.create(messages=user(tag), **FALLING_BACK)
    assert answer.choices[0].message.content == f"Echo: {tag}"  # served by the fallback it asked for


def test_control_fields_leave_the_body_and_metadata_before_the_upstream(start_gateway, clients_file, fake_upstream):
    """In front of the fake model directly, the body that arrives is visible whole."""
    gateway = start_gateway(upstream=fake_upstream.base_url, clients_config=clients_file, **TOKENS)
    tag = marker()
    alpha = sdk(gateway, TOKENS["ALPHA_TOKEN"])
    answer = alpha.chat.completions.create(
        model="fake-model", messages=user(tag), temperature=0.5, extra_body={**STEERING, "top_k": 3}
    )
    assert answer.choices[0].message.content == f"Echo: {tag}"
    reached = fake_upstream.request_with(tag)["body"]
    print(f"the upstream got: {sorted(reached)}, metadata {reached['metadata']}")
    assert not [field for field in reached if is_control_field(field)]
    assert (reached["temperature"], reached["top_k"]) == (0.5, 3)  # OpenAI and provider fields stay
    assert reached["metadata"] == {"team": "blue", "component": "passthrough"}

    steer = sdk(gateway, TOKENS["STEER_TOKEN"])
    tag = marker()
    steer.chat.completions.create(model="fake-model", messages=user(tag), extra_body={"num_retries": 7})
    assert fake_upstream.request_with(tag)["body"]["num_retries"] == 7


def test_the_list_covers_every_field_the_installed_litellm_owns():
    """An upgrade of LiteLLM that adds an own field fails here until litellm_control_fields.txt names it."""
    script = "import json; from litellm.types.utils import all_litellm_params as a; print(json.dumps(sorted(set(a))))"
    out = subprocess.run(
        [str(LITELLM_BIN.parent / "python"), "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    owned = set(orjson.loads(out.strip().splitlines()[-1])) - {"metadata"}  # metadata: an OpenAI field, filtered
    missing = sorted(field for field in owned if not is_control_field(field))
    print(f"LiteLLM owns {len(owned)} fields; {len(control_fields())} listed, {len(missing)} missing")
    assert not missing, f"add to api/clients/litellm_control_fields.txt: {missing}"


@pytest.mark.parametrize(
    ("clients", "env", "named"),
    [
        ("clients: [{name: ops, token_env: OPS_TOKEN_UNSET}]", {}, "'ops' reads its token from OPS_TOKEN_UNSET"),
        ("clients: [{name: ops, token_env: T, scopes: [root]}]", {"T": "x"}, "unknown scope(s) root"),
    ],
)
def test_a_bad_clients_file_stops_the_gateway_at_start_naming_the_client(tmp_path, clients, env, named):
    path = tmp_path / "clients.yaml"
    path.write_text(clients)
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.main:create_app", "--port", str(free_port())]
    environment = {k: v for k, v in gateway_env("http://127.0.0.1:9", clients_config=path, **env).items() if v}
    run = subprocess.run(
        command,
        env={"PATH": os.environ["PATH"], **environment},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    print(run.stderr.strip().splitlines()[-1])
    assert run.returncode != 0
    assert named in run.stderr
