"""What the gateway writes to its log: one access line per request, never a secret or a prompt.

Each test drives a gateway of its own through many kinds of requests (ok, streamed,
rejected, failing upstream, broken stream, client gone) at DEBUG level, then greps the
whole captured log.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.conftest import MASTER_KEY, log_events


def secret(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def drive(url: str, token: str, prompt: str) -> list[str]:
    """Requests of every outcome; returns their request ids."""
    auth = {"Authorization": f"Bearer {token}"}
    body = {"model": "fake-model", "messages": [{"role": "user", "content": prompt}]}
    ids = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for model, stream in (
            ("fake-model", False),
            ("fake-model+chunks=3x1", True),
            ("fake-model+error=429", False),
            ("fake-model+error=500", True),
            ("fake-model+break=2", True),
        ):
            response = client.post(
                "/v1/chat/completions", json={**body, "model": model, "stream": stream}, headers=auth
            )
            ids.append(response.headers["x-request-id"])
        wrong = client.post("/v1/chat/completions", json=body, headers={"Authorization": "Bearer " + token[::-1]})
        assert wrong.status_code == 401
        bad = client.post("/v1/chat/completions", content=b"{not json " + prompt.encode(), headers=auth)
        assert bad.status_code == 400
        assert client.get("/v1/models", headers=auth).status_code == 200
        with client.stream(
            "POST",
            "/v1/chat/completions",
            json={**body, "model": "fake-model+chunks=50x50", "stream": True},
            headers=auth,
        ) as r:
            ids.append(r.headers["x-request-id"])
            next(r.iter_bytes())
        ids += [wrong.headers["x-request-id"], bad.headers["x-request-id"]]
    return ids


def test_no_line_carries_a_token_the_upstream_key_or_a_prompt(start_gateway):
    token, prompt = secret("tok"), secret("private prompt")
    gateway = start_gateway(api_tokens=token, log_level="DEBUG")
    ids = drive(gateway.url, token, prompt)
    for request_id in ids:
        line = gateway.access_line(request_id)
        assert {"request_id", "trace_id", "route", "status", "latency_ms", "outcome"} <= set(line)
    logs = gateway.logs()
    assert sum(1 for line in log_events(logs) if line["event"] == "request") >= len(ids)
    for forbidden in (token, token[::-1], MASTER_KEY, prompt, prompt.split("-")[-1]):
        assert forbidden not in logs


def test_a_rejected_upstream_key_is_not_logged_either(start_gateway):
    upstream_key = secret("sk-wrong-upstream-key")
    gateway = start_gateway(llm_api_key=upstream_key, log_level="DEBUG", api_tokens="t0k")
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer t0k"},
    )
    assert response.status_code == 502
    assert gateway.access_line(response.headers["x-request-id"])["error_type"] == "upstream_error"
    assert upstream_key not in gateway.logs()
    assert upstream_key.removeprefix("sk-") not in gateway.logs()


@pytest.mark.parametrize("stream", [False, True])
def test_log_prompts_logs_each_llm_calls_messages_on_purpose(start_gateway, stream):
    gateway = start_gateway(log_prompts="true")
    prompt = secret("debug prompt")
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "fake-model", "messages": [{"role": "user", "content": prompt}], "stream": stream},
        headers={"Authorization": "Bearer test-token"},
    )
    assert response.status_code == 200
    request_id = response.headers["x-request-id"]
    gateway.access_line(request_id)
    (line,) = [json.loads(x) for x in gateway.logs().splitlines() if prompt in x]
    assert line["event"] == "llm_prompt"
    assert line["component"] == "passthrough"
    assert line["request_id"] == request_id
    assert line["messages"] == [{"role": "user", "content": prompt}]
