"""Auto routing through the real stack: the classifier is one structured-output call to the
fake model through LiteLLM; `choose=<path>` in the classifier model scripts its answer."""

from __future__ import annotations

import uuid

import httpx
import openai
import pytest

from tests.conftest import MASTER_KEY, TOKEN

AUTO = {"X-Routing-Mode": "auto"}
ALL_TARGETS = "passthrough,reasoning,orchestration"


def marker() -> str:
    return f"r-{uuid.uuid4().hex[:10]}"


def sdk(gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)


def classifier_calls(fake_upstream, tag: str) -> list[dict]:
    return [
        r for r in fake_upstream.requests_with(tag) if "choose=" in r["body"]["model"] or "+error" in r["body"]["model"]
    ]


@pytest.mark.parametrize("target", ["passthrough", "reasoning"])
def test_the_classifier_picks_the_path(start_gateway, fake_upstream, target):
    gateway = start_gateway(auto_routing_targets=ALL_TARGETS, routing_classifier_model=f"fake-model+choose={target}")
    tag = marker()
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="fake-model", messages=[{"role": "user", "content": f"hello {tag}"}], extra_headers=AUTO
    )
    assert (raw.headers["x-routing-path"], raw.headers["x-routing-reason"]) == (target, f"auto_{target}")
    assert raw.parse().choices[0].message.content == f"Echo: hello {tag}"
    (call,) = classifier_calls(fake_upstream, tag)
    assert call["body"]["temperature"] == 0
    assert call["body"]["response_format"]["type"] == "json_schema"
    assert call["body"]["response_format"]["json_schema"]["schema"]["properties"]["path"]["enum"] == ALL_TARGETS.split(
        ","
    )


def test_the_classifier_can_choose_orchestration(start_gateway):
    gateway = start_gateway(
        auto_routing_targets=ALL_TARGETS, routing_classifier_model="fake-model+choose=orchestration"
    )
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(gateway).chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": marker()}], extra_headers=AUTO
        )
    assert caught.value.status_code == 501
    assert caught.value.response.headers["x-routing-reason"] == "auto_orchestration"


def test_choices_are_limited_to_the_configured_targets(start_gateway, fake_upstream):
    # The default targets (passthrough, orchestration) do not include reasoning.
    gateway = start_gateway(routing_classifier_model="fake-model+choose=reasoning")
    tag = marker()
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="fake-model", messages=[{"role": "user", "content": tag}], extra_headers=AUTO
    )
    (call,) = classifier_calls(fake_upstream, tag)
    assert call["body"]["response_format"]["json_schema"]["schema"]["properties"]["path"]["enum"] == [
        "passthrough",
        "orchestration",
    ]
    assert raw.headers["x-routing-reason"] == "auto_passthrough"  # the fake could not pick reasoning


def test_the_auto_model_prefix_asks_the_classifier(start_gateway):
    gateway = start_gateway(auto_routing_targets=ALL_TARGETS, routing_classifier_model="fake-model+choose=reasoning")
    response = httpx.post(
        gateway.base_url + "/chat/completions",
        json={"model": "auto/fake-model+agent=demo", "messages": [{"role": "user", "content": marker()}]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-routing-reason"] == "auto_reasoning"
    assert response.json()["choices"][0]["message"]["reasoning_events"]


def test_the_classifier_sees_the_whole_conversation(start_gateway, fake_upstream):
    gateway = start_gateway(routing_classifier_model="fake-model+choose=passthrough")
    tag = marker()
    messages = [
        {"role": "system", "content": f"house rules {tag}"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "follow-up"},
    ]
    sdk(gateway).chat.completions.create(model="fake-model", messages=messages, extra_headers=AUTO)
    (call,) = classifier_calls(fake_upstream, tag)
    transcript = call["body"]["messages"][-1]["content"]
    for line in (f"system: house rules {tag}", "user: first question", "assistant: first answer", "user: follow-up"):
        assert line in transcript


def test_a_repeated_conversation_is_classified_once(start_gateway, fake_upstream):
    gateway = start_gateway(routing_classifier_model="fake-model+choose=passthrough")
    messages = [{"role": "user", "content": f"same question {marker()}"}]
    reasons = [
        sdk(gateway)
        .chat.completions.with_raw_response.create(model="fake-model", messages=messages, extra_headers=AUTO)
        .headers["x-routing-reason"]
        for _ in range(2)
    ]
    assert reasons == ["auto_passthrough", "auto_passthrough"]
    assert len(classifier_calls(fake_upstream, messages[0]["content"])) == 1


@pytest.mark.parametrize(
    "overrides",
    [
        {"routing_classifier_model": "fake-model+error=500"},
        {"routing_classifier_model": "fake-model+stall", "routing_classifier_timeout": 1},
    ],
    ids=["classifier-fails", "classifier-times-out"],
)
def test_a_failing_classifier_falls_back_to_passthrough(start_gateway, overrides):
    gateway = start_gateway(**overrides)
    tag = marker()
    raw = sdk(gateway).chat.completions.with_raw_response.create(
        model="fake-model", messages=[{"role": "user", "content": tag}], extra_headers=AUTO
    )
    assert (raw.headers["x-routing-path"], raw.headers["x-routing-reason"]) == ("passthrough", "auto_fallback")
    assert raw.parse().choices[0].message.content == f"Echo: {tag}"


def test_routes_shows_the_effective_policy_without_secrets(start_gateway):
    gateway = start_gateway(
        auto_routing_targets=ALL_TARGETS, routing_classifier_model="gpt-4o-mini", virtual_model_bases="gpt-4o"
    )
    response = httpx.get(gateway.base_url + "/routes", headers={"Authorization": f"Bearer {TOKEN}"})
    policy = response.json()
    assert response.status_code == 200
    assert policy["default_path"] == "passthrough"
    assert policy["header"] == "X-Routing-Mode"
    assert policy["model_prefixes"] == {"reasoning": "reasoning/", "auto": "auto/"}
    assert policy["virtual_model_bases"] == ["gpt-4o"]
    models = httpx.get(gateway.base_url + "/models", headers={"Authorization": f"Bearer {TOKEN}"}).json()["data"]
    ids = {m["id"] for m in models}
    assert {"reasoning/gpt-4o", "auto/gpt-4o"} <= ids
    assert "reasoning/gpt-4o-mini" not in ids  # only the configured bases get twins
    assert policy["auto_routing"]["targets"] == ["passthrough", "reasoning", "orchestration"]
    assert policy["auto_routing"]["classifier_model"] == "gpt-4o-mini"
    assert policy["auto_routing"]["fallback"] == {"path": "passthrough", "reason": "auto_fallback"}
    assert policy["paths"] == {"passthrough": "enabled", "reasoning": "enabled", "orchestration": "not_implemented"}
    assert [tier["tier"] for tier in policy["tiers"]] == [1, 2, 3]
    assert MASTER_KEY not in response.text
    assert TOKEN not in response.text
    assert httpx.get(gateway.base_url + "/routes").status_code == 401
