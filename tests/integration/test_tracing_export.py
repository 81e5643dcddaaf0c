"""Tracing against collectors that fail, with no collector at all, and through the span export
process to a collector that keeps what it gets (real gateway processes)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from api.observability.otlp import EXPORT_TIMEOUT_SECONDS
from tests.conftest import OPS_HEADERS, TOKEN, launch_gateway_process
from tests.support.otlp_sink import OtlpSink
from tests.support.processes import free_port

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def chat(text: str, model: str = "fake-model", stream: bool = False) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}


@pytest.fixture(scope="module")
def black_hole() -> Iterator[str]:
    """A collector that accepts connections and never answers: every export hangs to its timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(512)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def wait_for_tracing_health(url: str, status: str, timeout: float = 45.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        report = httpx.get(url + "/health/ready", headers=OPS_HEADERS).json()
        tracing = report["components"]["tracing"]
        if tracing["status"] == status or time.monotonic() > deadline:
            return tracing
        time.sleep(0.5)


@pytest.mark.parametrize("collector", ["refused", "black_hole"])
def test_a_dead_collector_neither_fails_nor_slows_requests(start_gateway, fake_upstream, black_hole, collector):
    endpoint = black_hole if collector == "black_hole" else f"http://127.0.0.1:{free_port()}"
    # Straight to the fake model: nothing but the gateway (and its exporter) in the latency.
    gateway = start_gateway(fake_upstream.base_url, llm_api_key="sk-fake", phoenix_collector_endpoint=endpoint)
    with httpx.Client(base_url=gateway.url, headers=AUTH, timeout=30) as client:
        for index in range(12):
            response = client.post(
                "/v1/chat/completions", json=chat(f"q{index}", "fake-model+chunks=3x1", stream=index % 2 == 0)
            )
            assert response.status_code == 200
            line = gateway.access_line(response.headers["x-request-id"])
            assert line["trace_id"] == response.headers["x-trace-id"]
            # An export blocks up to its timeout; a request never waits for one.
            assert line["latency_ms"] < EXPORT_TIMEOUT_SECONDS * 1000 / 5
            time.sleep(0.5)  # spread over several export batches
    tracing = wait_for_tracing_health(gateway.url, "degraded")
    assert tracing["status"] == "degraded", tracing
    ready = httpx.get(gateway.url + "/health/ready")
    assert ready.status_code == 200  # tracing is never critical
    # The exporter's complaints come from the span export process, as JSON lines like the rest.
    lines = gateway.logs().splitlines()
    assert [line for line in lines if line.strip() and not line.startswith("{")] == []
    assert any('"logger":"opentelemetry.exporter.otlp' in line for line in lines)
    assert httpx.get(gateway.url + "/health").json()["status"] == "ok"


def test_the_access_line_carries_trace_id_and_route_when_tracing_is_on(start_gateway, black_hole):
    gateway = start_gateway(phoenix_collector_endpoint=black_hole)
    response = httpx.post(gateway.url + "/v1/chat/completions", json=chat("x"), headers=AUTH)
    line = gateway.access_line(response.headers["x-request-id"])
    assert len(line["trace_id"]) == 32
    assert line["trace_id"] == response.headers["x-trace-id"]
    assert (line["route"], line["reason"]) == ("passthrough", "default")


def test_tracing_off_sends_no_traceparent_but_still_the_component(start_gateway, fake_upstream):
    gateway = start_gateway(upstream=fake_upstream.base_url, llm_api_key="sk-fake-upstream-key")
    tag = f"m-{uuid.uuid4().hex[:12]}"
    response = httpx.post(gateway.url + "/v1/chat/completions", json=chat(tag), headers={**AUTH, "X-Session-ID": "s-1"})
    assert response.status_code == 200
    assert "x-trace-id" not in response.headers
    upstream = fake_upstream.request_with(tag)
    assert "traceparent" not in upstream["headers"]
    assert upstream["body"]["metadata"] == {"component": "passthrough"}
    assert gateway.access_line(response.headers["x-request-id"])["trace_id"] is None
    tracing = httpx.get(gateway.url + "/health/ready", headers=OPS_HEADERS).json()["components"]["tracing"]
    assert tracing["status"] == "ok"
    assert "off" in tracing["detail"]


def test_a_dead_collector_does_not_hold_up_shutdown(start_gateway, fake_upstream, black_hole):
    # Settings of its own (a fresh process: this test stops it).
    gateway = start_gateway(
        fake_upstream.base_url, llm_api_key="sk-fake", phoenix_collector_endpoint=black_hole, log_level="WARNING"
    )
    for index in range(5):
        response = httpx.post(gateway.url + "/v1/chat/completions", json=chat(f"bye {index}"), headers=AUTH)
        assert response.status_code == 200
    # Spans are queued for a collector that never answers; SIGTERM must still end the
    # process cleanly before the stopper's 10 s patience runs out and it sends SIGKILL.
    gateway.process.stop()
    # The drain hands over to uvicorn without the signal, so the exit is a clean 0 (uvicorn
    # alone re-raises SIGTERM after its shutdown, -15); SIGKILL would be -9.
    assert gateway.process.process.returncode == 0


def children_of(pid: int) -> list[tuple[int, str]]:
    """The processes `pid` started, with their command lines."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            found.append((int(child), command.strip()))
    return found


def test_spans_go_out_through_the_export_process_and_sigterm_flushes_the_last_ones(fake_upstream, logs_dir, tmp_path):
    with OtlpSink() as sink:
        gateway = launch_gateway_process(
            fake_upstream.base_url,
            "span-export-process",
            logs_dir / "span-export-process.log",
            tmp_path,
            llm_api_key="sk-fake",
            otel_exporter_otlp_endpoint=sink.url,
        )
        try:
            pid = gateway.process.process.pid
            exporters = [child for child, command in children_of(pid) if "api.observability.export_process" in command]
            assert len(exporters) == 1, children_of(pid)
            client = openai.OpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
            tag = f"export-{uuid.uuid4().hex[:8]}"
            raw = client.chat.completions.with_raw_response.create(
                model="fake-model", messages=[{"role": "user", "content": tag}]
            )
            assert raw.parse().choices[0].message.content == f"Echo: {tag}"
            trace_id = raw.headers["x-trace-id"]
            # The batch processor waits up to 5 s before it exports: the spans are still in
            # the gateway when SIGTERM comes, and the shutdown must push them out through the child.
            assert sink.exports == 0
        finally:
            gateway.process.stop()
        assert gateway.process.process.returncode == 0
        assert not Path(f"/proc/{exporters[0]}").exists(), "the export process outlived the gateway"
        spans = [span for span in sink.spans() if span.trace_id.hex() == trace_id]
        by_name = {span.name: span for span in spans}
        assert sorted(by_name) == ["POST /v1/chat/completions", "passthrough", "routing"]
        root = by_name["POST /v1/chat/completions"]
        assert by_name["passthrough"].parent_span_id == root.span_id
        attributes = {item.key: item.value.string_value for item in by_name["passthrough"].attributes}
        assert attributes["llm.output_messages.0.message.content"] == f"Echo: {tag}"
