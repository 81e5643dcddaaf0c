"""Policy routing's rules as plain values: matching, first match wins, the file, the engine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from api.clients.model import Client
from api.errors import PermissionDeniedError
from api.middleware.request_context import response_headers_for
from api.policy.config import RoutingPolicyError, load_routing_policy, policy_view
from api.policy.engine import PolicyEngine
from api.policy.rules import PolicyInput, evaluate
from api.request_record import RequestRecord
from api.routing.decision import RoutingPolicy

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "routing_policy.example.yaml"


def write_policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing_policy.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def facts(
    text: str = "hello", tokens: int = 10, cost: float | None = 0.0001, client: str = "web", model: str = "gpt-4o"
):
    return PolicyInput(text, tokens, cost, client, model)


def decided(policy_path: Path, **given) -> str | None:
    rule = evaluate(load_routing_policy(policy_path).rules, facts(**given))
    return rule.name if rule else None


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("The patient's chart", "sensitive_local"),
        ("PATIENT", "sensitive_local"),
        ("a Medical  Record", None),  # two spaces: not the term
        ("my medical record", "sensitive_local"),
        ("outpatients and impatient people", None),  # whole words only
        ("ssn 123-45-6789 here", "sensitive_local"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "private_key"),
        ("a patient with -----BEGIN PRIVATE KEY-----", "private_key"),  # first match wins
        ("the weather in Paris", None),
    ],
)
def test_the_sample_policy_matches_terms_as_whole_words_in_any_case(text: str, rule: str | None) -> None:
    assert decided(SAMPLE, text=text) == rule


def test_large_prompts_go_to_the_cheaper_model_and_small_ones_nowhere() -> None:
    rules = load_routing_policy(SAMPLE).rules
    large = evaluate(rules, facts(tokens=20_000))
    assert large is not None
    assert (large.name, large.action, large.model) == ("large_prompt", "use_model", "gpt-4o-mini")
    assert evaluate(rules, facts(tokens=19_999)) is None


def test_every_condition_of_a_rule_must_hold(tmp_path: Path) -> None:
    path = write_policy(
        tmp_path,
        """
        rules:
          - name: costly_for_web
            when: {min_estimated_cost_usd: 0.05, clients: [web], models: [gpt-4o]}
            action: use_model
            model: gpt-4o-mini
          - name: everything_else
            action: allow
        """,
    )
    assert decided(path, cost=0.06) == "costly_for_web"
    assert decided(path, cost=0.04) == "everything_else"
    assert decided(path, cost=None) == "everything_else"  # an unpriced model never matches a cost rule
    assert decided(path, cost=0.06, client="batch") == "everything_else"
    assert decided(path, cost=0.06, model="o1-mini") == "everything_else"


def test_terms_can_come_from_a_file_next_to_the_policy(tmp_path: Path) -> None:
    (tmp_path / "terms.txt").write_text("# one per line\nProject Falcon\n\nc++\n")
    path = write_policy(
        tmp_path,
        """
        rules:
          - name: code_names
            when: {terms: [zeus], terms_file: terms.txt}
            action: refuse
        """,
    )
    assert decided(path, text="about project falcon") == "code_names"
    assert decided(path, text="written in C++ mostly") == "code_names"
    assert decided(path, text="Zeus") == "code_names"
    assert decided(path, text="falcon project") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - name: a\n    action: use_model\n", "rule 'a': action use_model needs a model"),
        ("rules:\n  - {name: a, action: allow}\n  - {name: a, action: allow}\n", "two rules are named 'a'"),
        ("rules:\n  - {name: a, action: allow, when: {patterns: ['(']}}\n", "rule 'a': a pattern does not compile"),
        ("rules:\n  - {name: a, action: allow, when: {termz: [x]}}\n", "rule 'a': when.termz"),
        ("rules:\n  - {name: Bad Name, action: allow}\n", "rule 'Bad Name': name"),
        ("rules:\n  - {name: a, action: route}\n", "rule 'a': action"),
        ("rules:\n  - {name: a, action: allow, when: {terms_file: missing.txt}}\n", "cannot read terms_file"),
        ("rules: [\n", "cannot read the routing policy"),
    ],
)
def test_a_wrong_policy_file_is_refused_naming_the_rule(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "routing_policy.yaml"
    path.write_text(text)
    with pytest.raises(RoutingPolicyError) as refused:
        load_routing_policy(path)
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


def engine() -> PolicyEngine:
    return PolicyEngine(load_routing_policy(SAMPLE), RoutingPolicy())


def record_for(body: dict) -> RequestRecord:
    record = RequestRecord("r", "POST", "/v1/chat/completions")
    record.note_prompt(body["model"], False, body["messages"])
    return record


@pytest.mark.parametrize("model", ["gpt-4o", "reasoning/gpt-4o", "auto/gpt-4o"])
def test_use_model_rewrites_the_model_and_keeps_the_path_prefix(model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": [{"type": "text", "text": "my diagnosis"}]}]}
    record = record_for(body)
    routed = engine().apply(body, Client("web", frozenset()), record)
    assert routed["model"] == model.replace("gpt-4o", "local-llama")
    assert (record.route_policy, record.policy_model) == ("sensitive_local", "local-llama")
    assert body["model"] == model  # the client's body is not changed under it


def test_a_refusal_is_a_403_that_names_the_rule_and_never_the_text() -> None:
    secret = "-----BEGIN PRIVATE KEY-----abc"
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": secret}]}
    record = record_for(body)
    with pytest.raises(PermissionDeniedError) as refused:
        engine().apply(body, Client("web", frozenset()), record)
    error = refused.value.payload()["error"]
    assert (refused.value.status_code, error["type"], error["code"]) == (403, "permission_error", "policy_refused")
    assert "'private_key'" in error["message"]
    assert "BEGIN" not in error["message"]
    assert record.route_policy == "private_key"


def test_no_rule_and_no_policy_leave_the_request_alone() -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "weather?"}]}
    record = record_for(body)
    assert engine().apply(body, Client("web", frozenset()), record) is body
    assert record.route_policy is None
    assert load_routing_policy(None).rules == ()


def test_routes_show_the_rules_but_the_terms_only_to_operators() -> None:
    public = policy_view(load_routing_policy(SAMPLE), reveal_terms=False)
    operator = policy_view(load_routing_policy(SAMPLE), reveal_terms=True)
    names = [rule["name"] for rule in public["rules"]]
    assert names == ["private_key", "sensitive_local", "large_prompt"]
    sensitive = public["rules"][1]
    assert sensitive["when"] == {"terms": "4 term(s), hidden", "patterns": "1 pattern(s), hidden"}
    assert (sensitive["reason"], sensitive["model"]) == ("policy_sensitive_local", "local-llama")
    assert "patient" not in json.dumps(public)
    assert "patient" in operator["rules"][1]["when"]["terms"]


INPUTS = [
    {"text": "patient notes", "tokens": 5},
    {"text": "x" * 10, "tokens": 25_000},
    {"text": "key -----BEGIN PRIVATE KEY-----", "tokens": 5},
    {"text": "Outpatient clinic hours", "tokens": 5},
    {"text": "hello", "tokens": 5},
]
DECIDE = """
import json, sys
from pathlib import Path
from api.policy.config import load_routing_policy
from api.middleware.request_context import response_headers_for
from api.policy.rules import PolicyInput, evaluate
rules = load_routing_policy(Path(sys.argv[1])).rules
out = []
for _ in range(2):
    for given in json.loads(sys.argv[2]):
        rule = evaluate(rules, PolicyInput(given["text"], given["tokens"], None, "web", "gpt-4o"))
        out.append(rule.name if rule else None)
print(json.dumps(out))
"""


def test_the_same_input_and_policy_give_the_same_decision_in_every_process() -> None:
    runs = [
        json.loads(
            subprocess.run(
                [sys.executable, "-c", DECIDE, str(SAMPLE), json.dumps(INPUTS)],
                capture_output=True,
                text=True,
                check=True,
                cwd=REPO,
                env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            ).stdout
        )
        for seed in ("1", "2")
    ]
    print(f"decisions in two processes (different hash seeds), each twice: {runs}")
    expected = ["sensitive_local", "large_prompt", "private_key", None, None] * 2
    assert runs == [expected, expected]


def test_the_routing_headers_name_the_rule_and_a_model_only_when_it_can_be_a_header_value() -> None:
    record = RequestRecord("r", "POST", "/v1/chat/completions")
    record.route_path, record.route_reason, record.model = "passthrough", "default", "local-llama"
    record.route_policy = "sensitive_local"
    headers = dict(response_headers_for(record))
    assert (headers[b"x-routing-model"], headers[b"x-routing-policy"]) == (b"local-llama", b"sensitive_local")
    record.model = "\x1fmodel"  # a client's model name with a control character: left out, not sent
    assert b"x-routing-model" not in dict(response_headers_for(record))
