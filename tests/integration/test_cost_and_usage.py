"""Cost and usage through the real stack: openai SDK → gateway → real LiteLLM → fake model,
rows in the real Postgres.

gpt-4o is priced by LiteLLM and by the price table alike ($2.50 per million prompt tokens,
$10 per million completion tokens); `fake-model` is a name neither knows, so its cost is
unknown (null), never a guess. `custom-priced` is that same fake model with a price set in
LiteLLM's config (tests/support/litellm_test_config.yaml): only LiteLLM's figure can price it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import write_mcp_config
from tests.support.databases import TestDatabase
from tests.support.mcp import wait_for_servers
from tests.support.waiting import until_equal

TEAM_TOKEN = "team-a-token-" + uuid.uuid4().hex[:8]
OPS_TOKEN = "ops-token-" + uuid.uuid4().hex[:8]


def gpt_4o_price(prompt_tokens: int, completion_tokens: int) -> float:
    return (prompt_tokens * 2.5 + completion_tokens * 10) / 1e6


@pytest.fixture
def cost_gateway(launch_gateway, postgres_db: TestDatabase, demo_mcp, tmp_path: Path):
    clients = tmp_path / "clients.yaml"
    clients.write_text(
        yaml.safe_dump(
            {
                "clients": [
                    {"name": "team-a", "token_env": "TEAM_A_TOKEN"},  # default scopes: usage:own
                    {"name": "ops", "token_env": "OPS_TOKEN", "scopes": ["chat", "usage:all"]},
                ]
            }
        )
    )
    mcp = write_mcp_config(tmp_path / "servers.yaml", {"name": "demo", "url": demo_mcp.url + "/mcp"})
    gateway = launch_gateway(
        clients_config=clients,
        team_a_token=TEAM_TOKEN,
        ops_token=OPS_TOKEN,
        database_url=postgres_db.url,
        audit_flush_interval_seconds=0.05,
        mcp_servers_config=mcp,
        max_reasoning_iterations=4,
    )
    wait_for_servers(gateway, {"demo": "up"})  # the reasoning requests ask for the weather tool
    return gateway


def sdk(gateway, token: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.base_url, api_key=token, max_retries=0)


def chat(gateway, token: str, model: str, stream: bool = False) -> str:
    """One chat request; returns its request id."""
    messages = [{"role": "user", "content": f"What is the weather in Paris? {uuid.uuid4().hex[:6]}"}]
    raw = sdk(gateway, token).chat.completions.with_raw_response.create(model=model, messages=messages, stream=stream)
    if stream:
        for _ in raw.parse():
            pass
    else:
        raw.parse()
    return raw.headers["x-request-id"]


def usage(gateway, token: str, **params: str) -> httpx.Response:
    return httpx.get(gateway.base_url + "/usage", params=params, headers={"Authorization": f"Bearer {token}"})


def cost_metric(gateway, token: str) -> dict[tuple[str, str], float]:
    text = httpx.get(gateway.url + "/metrics", headers={"Authorization": f"Bearer {token}"}).text
    return {
        (sample.labels["client"], sample.labels["model"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "gateway_cost_usd"
        for sample in family.samples
        if sample.name == "gateway_cost_usd_total"
    }


@pytest.mark.timeout(300)  # the session's first test may start LiteLLM and the demo MCP on a busy machine
async def test_each_request_gets_its_cost_and_usage_adds_the_rows_up_by_scope(cost_gateway, postgres_db):
    gateway = cost_gateway
    ids = {
        "passthrough": chat(gateway, TEAM_TOKEN, "gpt-4o"),
        "passthrough stream": chat(gateway, TEAM_TOKEN, "gpt-4o", stream=True),
        "reasoning": chat(gateway, TEAM_TOKEN, "reasoning/gpt-4o"),
        "reasoning stream": chat(gateway, TEAM_TOKEN, "reasoning/gpt-4o", stream=True),
        "litellm's price": chat(gateway, TEAM_TOKEN, "custom-priced"),
        "litellm's price stream": chat(gateway, TEAM_TOKEN, "custom-priced", stream=True),
        "unknown model": chat(gateway, TEAM_TOKEN, "fake-model"),
        "unknown model stream": chat(gateway, TEAM_TOKEN, "fake-model", stream=True),
        "classifier priced, answer unknown": chat(gateway, TEAM_TOKEN, "auto/fake-model"),
        "ops": chat(gateway, OPS_TOKEN, "gpt-4o"),
    }
    await until_equal(postgres_db.count, len(ids))
    rows = {row["request_id"]: row for row in await postgres_db.rows()}
    by_label = {label: rows[rid] for label, rid in ids.items()}
    for label, row in by_label.items():
        print(
            f"{label:36} {row['client']:7} {row['model']:12} steps={row['reasoning_steps']} "
            f"tokens={row['prompt_tokens']}+{row['completion_tokens']} cost_usd={row['cost_usd']}"
        )

    for label in ("passthrough", "passthrough stream", "reasoning", "reasoning stream", "ops"):
        row = by_label[label]
        # Every call is gpt-4o, so the sum of the calls' prices is the price of the summed tokens.
        assert row["cost_usd"] == pytest.approx(gpt_4o_price(row["prompt_tokens"], row["completion_tokens"])), label
    assert by_label["reasoning"]["reasoning_steps"] >= 2  # several calls summed, not the last one
    for label in ("litellm's price", "litellm's price stream"):
        row = by_label[label]  # the header (non-streamed) or usage.cost (streamed): $0.001 and $0.002 a token
        assert row["cost_usd"] == pytest.approx(row["prompt_tokens"] * 0.001 + row["completion_tokens"] * 0.002), label
    for label in ("unknown model", "unknown model stream", "classifier priced, answer unknown"):
        assert by_label[label]["cost_usd"] is None, label
    assert by_label["ops"]["client"] == "ops"
    assert by_label["passthrough"]["client"] == "team-a"

    # usage:all sees every row; the totals are the rows' sums.
    everyone = usage(gateway, OPS_TOKEN, group_by="client,model")
    assert everyone.status_code == 200, everyone.text
    body = everyone.json()
    print(body)
    known = [row["cost_usd"] for row in rows.values() if row["cost_usd"] is not None]
    assert body["total"]["requests"] == len(rows)
    assert body["total"]["prompt_tokens"] == sum(row["prompt_tokens"] or 0 for row in rows.values())
    assert body["total"]["completion_tokens"] == sum(row["completion_tokens"] or 0 for row in rows.values())
    assert body["total"]["cost_usd"] == pytest.approx(sum(known))
    assert body["total"]["cost_unknown_requests"] == len(rows) - len(known) == 3
    assert {(g["client"], g["model"]) for g in body["data"]} == {
        ("ops", "gpt-4o"),
        ("team-a", "gpt-4o"),
        ("team-a", "custom-priced"),
        ("team-a", "fake-model"),
    }

    # usage:own sees its own rows only, whatever it asks for.
    own = usage(gateway, TEAM_TOKEN, group_by="client,day").json()
    assert [g["client"] for g in own["data"]] == ["team-a"] * len(own["data"])
    assert own["total"]["requests"] == len(rows) - 1
    assert own["total"]["cost_usd"] == pytest.approx(sum(known) - by_label["ops"]["cost_usd"])

    # The metric moved by the same amounts, per client and upstream model.
    metric = cost_metric(gateway, OPS_TOKEN)
    print(metric)
    assert metric[("ops", "gpt-4o")] == pytest.approx(by_label["ops"]["cost_usd"])
    for model in ("gpt-4o", "custom-priced"):
        spent = sum(r["cost_usd"] for r in rows.values() if (r["client"], r["model"]) == ("team-a", model))
        assert metric[("team-a", model)] == pytest.approx(spent), model
    assert ("team-a", "fake-model") not in metric


def test_usage_answers_bad_parameters_in_openai_shape_and_empty_ranges_as_zeros(cost_gateway):
    bad = usage(cost_gateway, OPS_TOKEN, group_by="client,colour")
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "group_by"
    assert bad.json()["error"]["type"] == "invalid_request_error"
    backwards = usage(cost_gateway, OPS_TOKEN, since="2030-01-02T00:00:00Z", until="2030-01-01T00:00:00Z")
    assert backwards.status_code == 400
    assert backwards.json()["error"]["param"] == "until"
    empty = usage(cost_gateway, TEAM_TOKEN, since="2001-01-01", until="2001-01-02", group_by="day")
    assert empty.status_code == 200
    assert empty.json() == {
        "object": "usage",
        "since": "2001-01-01T00:00:00+00:00",
        "until": "2001-01-02T00:00:00+00:00",
        "group_by": ["day"],
        "data": [],
        "total": {
            "requests": 0,
            "errors": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "cost_usd": 0.0,
            "cost_unknown_requests": 0,
        },
    }
