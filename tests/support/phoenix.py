"""A real Phoenix (trace UI + OTLP collector) for the e2e tests, and a reader of its REST API."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.support.processes import REPO, ServerProcess, free_port

PHOENIX_BIN = Path(os.environ.get("PHOENIX_BIN", REPO / ".tools" / "phoenix" / "bin" / "phoenix"))
#: Phoenix reaches for the internet at start-up unless told not to (the same set `make run` uses).
OFFLINE_ENV = {
    "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    "PHOENIX_ALLOWED_SANDBOX_PROVIDERS": "NONE",
    "PHOENIX_DISABLE_AGENT_ASSISTANT": "true",
    "PHOENIX_TELEMETRY_ENABLED": "false",
}

Span = dict[str, Any]

TRACE_TOTALS = """
query ($project: String!, $traceId: ID!) {
  getProjectByName(name: $project) {
    trace(traceId: $traceId) {
      userId
      rootSpan { cumulativeTokenCountPrompt cumulativeTokenCountCompletion cumulativeTokenCountTotal }
      costSummary { total { cost tokens } }
    }
  }
}"""

SESSION_TOTALS = """
query ($sessionId: String!) {
  getProjectSessionById(sessionId: $sessionId) {
    id
    numTraces
    userId
    tokenUsage { prompt completion total }
    costSummary { total { cost tokens } }
    lastOutput { value }
  }
}"""

CREATE_MODEL = """
mutation ($input: CreateModelMutationInput!) { createModel(input: $input) { model { id } } }"""


def start_phoenix(logs_dir: Path, working_dir: Path) -> ServerProcess:
    """`phoenix serve` on free ports, its SQLite database in `working_dir`; ready at /healthz."""
    port = free_port()
    env: dict[str, str | None] = {
        **OFFLINE_ENV,
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(free_port()),
        "PHOENIX_WORKING_DIR": str(working_dir),
        "PHOENIX_DB_LOGGING_LEVEL": "warning",
        "PHOENIX_COLLECTOR_ENDPOINT": None,
    }
    return ServerProcess(
        "phoenix", [str(PHOENIX_BIN), "serve"], port, logs_dir / "phoenix.log", env=env, cwd=working_dir
    ).start("/healthz", timeout=180)


class PhoenixReader:
    """Reads spans back through `GET /v1/projects/{project}/spans`, and the totals Phoenix's
    trace list and Sessions page show through its GraphQL API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def spans(self, project: str, trace_id: str) -> list[Span]:
        """Every span of `trace_id` in `project` (an unknown project is 404 until its first span)."""
        spans: list[Span] = []
        cursor: str | None = None
        while True:
            params = {"trace_id": trace_id, "limit": 100, **({"cursor": cursor} if cursor else {})}
            response = httpx.get(f"{self.url}/v1/projects/{project}/spans", params=params, timeout=10)
            if response.status_code == 404:
                return []
            response.raise_for_status()
            page = response.json()
            spans.extend(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                return spans

    def wait_for_trace(
        self, project: str, trace_id: str, complete: Callable[[list[Span]], bool], timeout: float = 60.0
    ) -> list[Span]:
        """Poll until `complete(spans)` holds (spans arrive seconds late); fail with what was seen."""
        deadline = time.monotonic() + timeout
        spans: list[Span] = []
        while time.monotonic() < deadline:
            spans = self.spans(project, trace_id)
            if complete(spans):
                return spans
            time.sleep(1.0)
        seen = [(s["name"], s["span_kind"], s["context"]["span_id"], s["parent_id"]) for s in spans]
        raise AssertionError(f"trace {trace_id} in {project!r} never completed; spans seen: {seen}")

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.url}/graphql", json={"query": query, "variables": variables}, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def project_id(self, project: str) -> str:
        return self.graphql("query ($n: String!) { getProjectByName(name: $n) { id } }", n=project)["getProjectByName"][
            "id"
        ]

    def trace(self, project: str, trace_id: str) -> dict[str, Any]:
        return self.graphql(TRACE_TOTALS, project=project, traceId=trace_id)["getProjectByName"]["trace"]

    def session(self, session_id: str) -> dict[str, Any]:
        return self.graphql(SESSION_TOTALS, sessionId=session_id)["getProjectSessionById"]

    def price_model(self, name_pattern: str, input_per_million: float, output_per_million: float) -> None:
        """A user-defined model price: Phoenix prices every LLM span whose model name matches.
        Its cost daemon picks new models up within seconds (GenerativeModelStore, 5 s)."""
        costs = [
            {"tokenType": "input", "costPerMillionTokens": input_per_million, "kind": "PROMPT"},
            {"tokenType": "output", "costPerMillionTokens": output_per_million, "kind": "COMPLETION"},
        ]
        self.graphql(CREATE_MODEL, input={"name": name_pattern, "namePattern": name_pattern, "costs": costs})
