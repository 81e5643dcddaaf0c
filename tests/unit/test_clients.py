"""Clients from config/clients.yaml and API_TOKENS (contract section 10): what starts, what refuses to."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from api.clients.control_fields import control_fields, is_control_field, upstream_body
from api.clients.gate import model_refusal
from api.clients.model import Client
from api.clients.registry import ClientsConfigError, load_registry
from api.clients.scopes import ANONYMOUS_SCOPES, DEFAULT_SCOPES, UPSTREAM_CONTROL
from api.middleware.auth import route_refusal
from api.routing.decision import RoutingPolicy


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "clients.yaml"
    path.write_text(text)
    return path


def test_a_file_and_api_tokens_make_named_clients(tmp_path):
    path = write(
        tmp_path,
        f"""
clients:
  - name: web-client
    token_env: WEB_TOKEN
    models: ["gpt-4o*"]
    limits: {{requests_per_minute: 60, budget_usd: 5, budget_period: day}}
  - name: ops
    token_sha256: {hashlib.sha256(b"ops-secret").hexdigest()}
    scopes: [audit:all, usage:all]
""",
    )
    registry = load_registry(path, ["plain-token"], {"WEB_TOKEN": "web-secret"})
    web = registry.by_token("web-secret")
    assert web is not None
    assert web.name == "web-client"
    assert web.scopes == DEFAULT_SCOPES
    assert (web.limits.requests_per_minute, web.limits.budget_usd, web.limits.budget_period) == (60, 5.0, "day")
    ops = registry.by_token("ops-secret")
    assert ops is not None
    assert ops.scopes == {"audit:all", "usage:all"}
    plain = registry.by_token("plain-token")
    assert plain is not None
    assert plain.name == "token-" + hashlib.sha256(b"plain-token").hexdigest()[:8]
    assert plain.scopes == DEFAULT_SCOPES
    assert not plain.limits.any
    assert registry.by_token("web-secre") is None
    assert len(registry) == 3
    assert registry.anonymous.scopes == ANONYMOUS_SCOPES
    assert UPSTREAM_CONTROL not in ANONYMOUS_SCOPES


@pytest.mark.parametrize(
    ("text", "environ", "api_tokens", "named"),
    [
        ("clients: [{name: a, token_env: A, scopes: [chat, admin]}]", {"A": "x"}, [], "unknown scope(s) admin"),
        (
            "clients: [{name: a, token_env: A}, {name: a, token_env: B}]",
            {"A": "x", "B": "y"},
            [],
            "the name 'a' is used twice",
        ),
        ("clients: [{name: a, token_env: MISSING_TOKEN}]", {}, [], "reads its token from MISSING_TOKEN"),
        ("clients: [{name: a, token_env: A}, {name: b, token_env: B}]", {"A": "x", "B": "x"}, [], "'a' and 'b'"),
        ("clients: [{name: a, token_env: A}]", {"A": "shared"}, ["shared"], "the same token"),
        ("clients: [{name: a}]", {}, [], "client 'a': give exactly one of token_env"),
        ("clients: [{name: 'a b', token_env: A}]", {"A": "x"}, [], "client 'a b': name"),
        ("clients: [{name: a, token_sha256: abc}]", {}, [], "token_sha256 must be 64 hex digits"),
        ("clients: [{name: a, token_env: A, limits: {requests_per_minute: 0}}]", {"A": "x"}, [], "requests_per_minute"),
        ("clients: [{name: a, token_env: A, limits: {budget_period: week}}]", {"A": "x"}, [], "budget_period"),
        ("clients: [{name: a, token_env: A, token: raw}]", {"A": "x"}, [], "client 'a': token"),
        ("clients: [{name: a", {}, [], "not valid YAML"),
    ],
)
def test_a_misconfigured_file_stops_the_start_naming_the_client(tmp_path, text, environ, api_tokens, named):
    with pytest.raises(ClientsConfigError) as caught:
        load_registry(write(tmp_path, text), api_tokens, environ)
    assert named in str(caught.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(ClientsConfigError, match="cannot read"):
        load_registry(tmp_path / "nope.yaml", [], {})


def test_scopes_paths_and_models_decide_per_route():
    chat_only = Client("chatter", frozenset({"chat"}), models=("gpt-4o-mini", "fake-*"))
    refusal = route_refusal(chat_only, "/v1/models")
    assert refusal is not None
    assert (refusal.status_code, refusal.code) == (403, "scope_missing")
    assert route_refusal(chat_only, "/v1/chat/completions") is None
    assert route_refusal(chat_only, "/health") is None  # no scope needed
    fenced = Client("fenced", DEFAULT_SCOPES, paths=("/v1/chat/*",))
    refusal = route_refusal(fenced, "/tools")
    assert refusal is not None
    assert refusal.code == "path_not_allowed"
    reader = Client("reader", frozenset({"audit:own"}))
    assert route_refusal(reader, "/v1/audit/abc") is None
    assert route_refusal(reader, "/v1/usage") is not None

    policy = RoutingPolicy()
    assert model_refusal(chat_only, "gpt-4o-mini", policy) is None
    assert model_refusal(chat_only, "reasoning/fake-model", policy) is None  # the prefix aside
    refused = model_refusal(chat_only, "auto/gpt-4o", policy)
    assert refused is not None
    assert (refused.code, refused.param) == ("model_not_allowed", "model")


@pytest.mark.parametrize("field", [*sorted(control_fields()), "litellm_anything", "_internal", "mock_whatever"])
def test_each_control_field_is_stripped_unless_the_client_has_upstream_control(field):
    body = {"model": "gpt-4o", "messages": [], "temperature": 0.2, field: "x"}
    plain = Client("plain", DEFAULT_SCOPES)
    assert upstream_body(body, plain) == {"model": "gpt-4o", "messages": [], "temperature": 0.2}
    steering = Client("steering", DEFAULT_SCOPES | {UPSTREAM_CONTROL})
    assert upstream_body(body, steering) == body


def test_metadata_stays_without_the_keys_litellm_acts_on():
    body = {"model": "m", "messages": [], "metadata": {"team": "blue", "tags": ["free"], "user_api_key_alias": "x"}}
    assert upstream_body(body, Client("plain", DEFAULT_SCOPES))["metadata"] == {"team": "blue"}
    untouched = {"model": "m", "messages": [], "metadata": {"team": "blue"}, "top_k": 3}
    assert upstream_body(untouched, Client("plain", DEFAULT_SCOPES)) is untouched  # no copy when nothing steers


@pytest.mark.parametrize("field", ["api_base", "base_url", "api_key", "mock_response", "fallbacks", "num_retries"])
def test_the_contracts_named_fields_are_control_fields(field):
    assert is_control_field(field)
