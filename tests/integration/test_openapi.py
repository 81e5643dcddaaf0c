"""`/openapi.json` describes the chat route as it is, and a schema-driven fuzzer can drive it.

The chat handler reads its body itself (orjson), so nothing about the route comes from its
signature: these tests hold the hand-written description (api/openapi.py) to the real
gateway, first by reading the schema, then by letting schemathesis loose on the route.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from tests.conftest import TOKEN, log_events

CHAT = "/v1/chat/completions"
ERROR_STATUSES = {"400", "401", "404", "413", "429", "500", "501", "502", "503", "504", "4XX"}


def chat_operation(gateway) -> tuple[dict, dict]:
    schema = httpx.get(gateway.url + "/openapi.json").json()
    return schema, schema["paths"][CHAT]["post"]


def resolve(schema: dict, node: dict) -> dict:
    ref = node.get("$ref")
    return resolve(schema, schema["components"]["schemas"][ref.rsplit("/", 1)[1]]) if ref else node


def test_the_request_body_is_described_with_other_fields_allowed(gateway):
    _, operation = chat_operation(gateway)
    body = operation["requestBody"]
    assert body["required"] is True
    request = body["content"]["application/json"]["schema"]
    assert set(request["required"]) == {"model", "messages"}
    assert request["additionalProperties"] is True  # every other OpenAI field is accepted
    assert request["properties"]["stream"]["anyOf"] == [{"type": "boolean"}, {"type": "null"}]
    message = request["properties"]["messages"]["items"]
    assert "user" in message["properties"]["role"]["enum"]
    assert "$ref" not in str(request)  # inlined: `#/$defs/...` would point nowhere in this document
    headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
    assert {"X-Routing-Mode", "X-Session-ID", "X-Client-Request-Id"} <= headers


def test_the_answers_and_the_error_shape_are_described(gateway):
    schema, operation = chat_operation(gateway)
    responses = operation["responses"]
    ok = responses["200"]
    assert set(ok["content"]) == {"application/json", "text/event-stream"}
    completion = resolve(schema, ok["content"]["application/json"]["schema"])
    assert completion["properties"]["object"]["const"] == "chat.completion"
    assert ok["headers"]["X-Request-Id"]["required"] is True
    assert set(responses) >= ERROR_STATUSES
    assert "422" not in responses  # validation failures are 400s
    for status in ERROR_STATUSES:
        error = resolve(schema, responses[status]["content"]["application/json"]["schema"])
        detail = resolve(schema, error["properties"]["error"])
        assert set(detail["properties"]) == {"message", "type", "param", "code"}, status


def test_a_bounded_schemathesis_run_finds_nothing(gateway, tmp_path: Path):
    """Schemathesis generates bodies and headers from the schema and checks every answer against it.

    Checks: no 5xx the schema does not list, statuses, content types, the documented headers and
    the response schemas (the JSON answer and the error shape). Bounded by examples and time.
    """
    report = tmp_path / "schemathesis.json"
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        gateway.url + "/openapi.json",
        "--include-path",
        CHAT,
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--checks",
        "status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "60",
        "--max-time",
        "20",
        "--workers",
        "1",
        "--seed",
        "1",
        "--request-timeout",
        "10",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    lines_before = len(log_events(gateway.logs()))
    started = time.monotonic()
    run = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False, cwd=tmp_path)
    seconds = time.monotonic() - started
    output = run.stdout[-6000:] + run.stderr[-2000:]
    answered = [
        line["status"]
        for line in log_events(gateway.logs())[lines_before:]
        if line.get("event") == "request" and line.get("path") == CHAT
    ]
    statuses = dict(sorted(Counter(answered).items()))
    figures = (
        f"schemathesis: exit {run.returncode} in {seconds:.1f} s; {len(answered)} chat requests, statuses {statuses}"
    )
    print(output)
    print(figures)
    assert run.returncode == 0, f"{figures}\n{output}"
    assert statuses.get(200, 0) > 0, figures  # the examples reached the paths, not only the validation
    assert statuses.get(500, 0) == 0, figures  # a 500 is a bug (the upstream's failures are 502/504)


def test_the_usage_route_and_its_parameters_are_described(gateway):
    schema = httpx.get(gateway.url + "/openapi.json").json()
    operation = schema["paths"]["/v1/usage"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"since", "until", "group_by"}
