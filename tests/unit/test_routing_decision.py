"""The three routing tiers of contract section 2, one row at a time."""

import pytest

from api.errors import InvalidRequestError
from api.routing.decision import NeedsClassifier, RoutePath, RoutingDecision, RoutingPolicy, decide

POLICY = RoutingPolicy()
MESSAGES = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def body(**fields):
    return {"model": "gpt-4o", "messages": MESSAGES, **fields}


@pytest.mark.parametrize(
    ("request_body", "header", "expected"),
    [
        # tier 1: what the body needs wins over everything
        (body(tools=TOOLS), None, RoutingDecision(RoutePath.PASSTHROUGH, "tools_present", "gpt-4o")),
        (body(tools=TOOLS), "reasoning", RoutingDecision(RoutePath.PASSTHROUGH, "tools_present", "gpt-4o")),
        (body(functions=[{"name": "f"}]), "auto", RoutingDecision(RoutePath.PASSTHROUGH, "tools_present", "gpt-4o")),
        (
            body(response_format={"type": "json_object"}),
            "orchestration",
            RoutingDecision(RoutePath.PASSTHROUGH, "response_format_present", "gpt-4o"),
        ),
        (
            {**body(tools=TOOLS), "model": "reasoning/gpt-4o"},
            None,
            RoutingDecision(RoutePath.PASSTHROUGH, "tools_present", "gpt-4o"),
        ),
        # tier 2: the header
        (body(), "passthrough", RoutingDecision(RoutePath.PASSTHROUGH, "header_passthrough", "gpt-4o")),
        (body(), "reasoning", RoutingDecision(RoutePath.REASONING, "header_reasoning", "gpt-4o")),
        (body(), "orchestration", RoutingDecision(RoutePath.ORCHESTRATION, "header_orchestration", "gpt-4o")),
        (body(), "auto", NeedsClassifier("gpt-4o")),
        # tier 2: the model prefix, when there is no header
        (
            {**body(), "model": "reasoning/gpt-4o"},
            None,
            RoutingDecision(RoutePath.REASONING, "model_reasoning", "gpt-4o"),
        ),
        ({**body(), "model": "auto/gpt-4o-mini"}, None, NeedsClassifier("gpt-4o-mini")),
        # the header wins over the prefix (and the prefix is still stripped)
        (
            {**body(), "model": "reasoning/gpt-4o"},
            "passthrough",
            RoutingDecision(RoutePath.PASSTHROUGH, "header_passthrough", "gpt-4o"),
        ),
        (
            {**body(), "model": "auto/gpt-4o"},
            "reasoning",
            RoutingDecision(RoutePath.REASONING, "header_reasoning", "gpt-4o"),
        ),
        # tier 3: the default
        (body(), None, RoutingDecision(RoutePath.PASSTHROUGH, "default", "gpt-4o")),
        # empty tools and a null response_format do not force passthrough
        (body(tools=[]), "reasoning", RoutingDecision(RoutePath.REASONING, "header_reasoning", "gpt-4o")),
        (body(response_format=None), "reasoning", RoutingDecision(RoutePath.REASONING, "header_reasoning", "gpt-4o")),
    ],
)
def test_each_tier(request_body, header, expected):
    assert decide(request_body, header, POLICY) == expected


@pytest.mark.parametrize("header", ["Reasoning", "  reasoning ", "REASONING", "\treasoning\n"])
def test_header_is_case_insensitive_and_trimmed(header):
    assert decide(body(), header, POLICY) == RoutingDecision(RoutePath.REASONING, "header_reasoning", "gpt-4o")


@pytest.mark.parametrize("header", ["", "reason", "fast", "passthrough,reasoning", "auto-ish"])
def test_unknown_header_values_are_rejected_with_the_allowed_list(header):
    with pytest.raises(InvalidRequestError) as caught:
        decide(body(), header, POLICY)
    error = caught.value
    assert error.status_code == 400
    assert error.code == "invalid_routing_mode"
    assert error.param == "X-Routing-Mode"
    for allowed in ("passthrough", "reasoning", "orchestration", "auto"):
        assert allowed in error.message


def test_bad_header_is_rejected_even_when_tier_one_applies():
    with pytest.raises(InvalidRequestError):
        decide(body(tools=TOOLS), "bogus", POLICY)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("passthrough", RoutingDecision(RoutePath.PASSTHROUGH, "default", "gpt-4o")),
        ("reasoning", RoutingDecision(RoutePath.REASONING, "default", "gpt-4o")),
        ("orchestration", RoutingDecision(RoutePath.ORCHESTRATION, "default", "gpt-4o")),
        ("auto", NeedsClassifier("gpt-4o")),
    ],
)
def test_default_mode_is_configurable(mode, expected):
    assert decide(body(), None, RoutingPolicy(default_mode=mode)) == expected


def test_prefixes_are_configurable():
    policy = RoutingPolicy(reasoning_prefix="think:", auto_prefix="pick:")
    assert decide({**body(), "model": "think:gpt-4o"}, None, policy).path is RoutePath.REASONING
    assert decide({**body(), "model": "pick:gpt-4o"}, None, policy) == NeedsClassifier("gpt-4o")
    # the default prefixes mean nothing under this policy
    assert decide({**body(), "model": "reasoning/gpt-4o"}, None, policy) == RoutingDecision(
        RoutePath.PASSTHROUGH, "default", "reasoning/gpt-4o"
    )


@pytest.mark.parametrize("model", ["reasoning/", "auto/"])
@pytest.mark.parametrize("header", [None, "passthrough"])
def test_a_bare_prefix_is_a_400_naming_model(model, header):
    with pytest.raises(InvalidRequestError) as caught:
        decide({**body(), "model": model}, header, POLICY)
    assert (caught.value.status, caught.value.code, caught.value.param) == (400, "invalid_value", "model")
    assert f"{model}gpt-4o" in caught.value.message


def test_a_bare_custom_prefix_is_a_400_too():
    with pytest.raises(InvalidRequestError):
        decide({**body(), "model": "think:"}, None, RoutingPolicy(reasoning_prefix="think:"))


def test_identical_inputs_give_identical_decisions():
    assert decide(body(), "reasoning", POLICY) == decide(body(), "reasoning", POLICY)


def test_the_orchestrate_prefix_picks_orchestration_only_while_it_is_enabled():
    enabled = RoutingPolicy(orchestrate_prefix="orchestrate/")
    assert decide({**body(), "model": "orchestrate/gpt-4o"}, None, enabled) == RoutingDecision(
        RoutePath.ORCHESTRATION, "model_orchestration", "gpt-4o"
    )
    # the header still wins, and tier 1 beats both
    assert decide({**body(), "model": "orchestrate/gpt-4o"}, "passthrough", enabled).reason == "header_passthrough"
    with_tools = {**body(tools=[{"type": "function", "function": {"name": "f"}}]), "model": "orchestrate/gpt-4o"}
    assert decide(with_tools, None, enabled).reason == "tools_present"
    # disabled (the default policy): a plain model name, as before
    assert decide({**body(), "model": "orchestrate/gpt-4o"}, None, POLICY) == RoutingDecision(
        RoutePath.PASSTHROUGH, "default", "orchestrate/gpt-4o"
    )
