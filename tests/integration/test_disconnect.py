"""A client that goes away cancels its request: the model sees the connection drop."""

from __future__ import annotations

import socket
import time
import uuid

import httpx

from tests.conftest import TOKEN

HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def read_two_chunks_then_leave(url: str, body: dict) -> str:
    """Read two events, then close the connection mid-stream; returns the answer's X-Request-Id."""
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", url, json=body, headers=HEADERS) as response,
    ):
        assert response.status_code == 200
        request_id = response.headers["x-request-id"]
        lines = response.iter_lines()
        seen = 0
        for line in lines:
            if line.startswith("data: "):
                seen += 1
            if seen == 2:
                break
    # leaving the `with` closes the connection mid-stream
    return request_id


def test_streaming_disconnect_closes_the_upstream_stream_through_litellm(gateway, fake_upstream):
    tag = uuid.uuid4().hex
    body = {"model": "fake-model+chunks=200x50", "messages": [{"role": "user", "content": tag}], "stream": True}
    request_id = read_two_chunks_then_leave(gateway.base_url + "/chat/completions", body)
    seq = fake_upstream.request_with(tag)["seq"]
    # 200 chunks 50 ms apart would take 10 s; the fake sees the drop long before.
    assert fake_upstream.wait_for_event(seq, "disconnected", timeout=3.0) < 3.0
    line = gateway.access_line(request_id)
    assert (line["outcome"], line["status"]) == ("cancelled", 200)


def test_streaming_disconnect_closes_the_upstream_directly(start_gateway, fake_upstream):
    gateway = start_gateway(llm_base_url=fake_upstream.base_url)
    tag = uuid.uuid4().hex
    body = {"model": "fake-model+chunks=200x50", "messages": [{"role": "user", "content": tag}], "stream": True}
    request_id = read_two_chunks_then_leave(gateway.base_url + "/chat/completions", body)
    seq = fake_upstream.request_with(tag)["seq"]
    assert fake_upstream.wait_for_event(seq, "disconnected", timeout=1.5) < 1.5
    assert gateway.access_line(request_id)["outcome"] == "cancelled"


def test_non_streaming_disconnect_cancels_the_upstream_call(start_gateway, fake_upstream):
    gateway = start_gateway(llm_base_url=fake_upstream.base_url)
    tag, client_id = uuid.uuid4().hex, f"dc-{uuid.uuid4().hex[:8]}"
    body = {"model": "fake-model+stall", "messages": [{"role": "user", "content": tag}]}

    gateway.give_up_after(1.0, body, client_id, HEADERS)
    seq = fake_upstream.request_with(tag)["seq"]
    assert fake_upstream.wait_for_event(seq, "disconnected", timeout=1.5) < 1.5
    line = gateway.access_line(client_request_id=client_id)
    assert (line["outcome"], line["status"]) == ("cancelled", 499)


def test_a_client_that_leaves_while_sending_its_body_is_a_cancel_not_an_error(gateway):
    client_id = f"dc-{uuid.uuid4().hex[:8]}"  # sent as X-Request-Id, as older clients do: kept as theirs
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nX-Request-Id: {client_id}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.process.port)) as sock:
        sock.sendall(head.encode() + b'{"model": "gpt-4o", "messages": [')
        time.sleep(0.2)
    line = gateway.access_line(client_request_id=client_id)
    assert (line["outcome"], line["status"]) == ("cancelled", 499)
    assert "unhandled_error" not in gateway.logs()
