"""Shutdown and quiet streams, with real processes: a gateway (uvicorn, as the image runs it),
the real LiteLLM proxy, the fake model (contract section 13).

SIGTERM drains: readiness says so at once, what is in flight finishes (or, past
SHUTDOWN_DRAIN_SECONDS, ends with the `draining` error event and `[DONE]`), every answered
request has its audit row, and the process exits 0. A stream quiet for
SSE_HEARTBEAT_SECONDS gets `: keep-alive` comments, which the OpenAI SDK skips.
"""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import openai
import orjson
import pytest

from tests.conftest import TOKEN, Gateway
from tests.support.load import LoadResult, run_load

AUTH = {"Authorization": f"Bearer {TOKEN}"}
IN_FLIGHT = 200


def chat(text: str, model: str, stream: bool) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}


def audit_rows(workdir: Path) -> dict[str, dict]:
    """The rows of a stopped gateway's SQLite store, plus any left in its journal, by request id."""
    rows: dict[str, dict] = {}
    database = workdir / "data" / "audit.db"
    if database.exists():
        with sqlite3.connect(database) as connection:
            connection.row_factory = sqlite3.Row
            rows.update({row["request_id"]: dict(row) for row in connection.execute("SELECT * FROM audit_log")})
    for journal in (workdir / "data" / "audit-journal").glob("journal-*.jsonl"):
        for line in journal.read_bytes().splitlines():
            if line.strip().startswith(b"{"):
                row = orjson.loads(line)
                rows.setdefault(row["request_id"], row)
    return rows


def in_flight(gateway: Gateway) -> float:
    text = httpx.get(gateway.url + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("gateway_in_flight_requests{")
    )


async def wait_until(condition, within: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > within:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def exit_code(gateway: Gateway, within: float) -> int | None:
    try:
        return gateway.process.process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        return None


async def test_sigterm_with_200_requests_in_flight_answers_and_records_every_one(launch_gateway, tmp_path):
    # How many of the 200 finish within the drain depends on the machine (a busy one runs LiteLLM
    # at a few requests a second): those finish, the others end with `draining`; none is left
    # unanswered, none unrecorded.
    drain_seconds = 12
    gateway = launch_gateway(shutdown_drain_seconds=drain_seconds)
    tag = uuid.uuid4().hex[:8]

    def body(index: int) -> dict:
        # Half streams of 10 chunks 200 ms apart, half answers after 2 s: all still running at SIGTERM.
        if index % 2:
            return chat(f"{tag} {index}", "fake-model+chunks=10x200", stream=True)
        return chat(f"{tag} {index}", "fake-model+latency=2000", stream=False)

    # A fresh LiteLLM takes seconds over its first calls (lazy imports, the model group): not in the drain.
    warm = await run_load(gateway.base_url + "/chat/completions", body, requests=4, concurrency=2, headers=AUTH)
    assert warm.complete == 4, warm.summary()
    result = LoadResult()
    load = asyncio.create_task(
        run_load(
            gateway.base_url + "/chat/completions",
            body,
            requests=IN_FLIGHT,
            concurrency=IN_FLIGHT,
            headers=AUTH,
            request_timeout=60,
            result=result,
        )
    )
    await wait_until(lambda: in_flight(gateway) >= IN_FLIGHT, 30, f"{IN_FLIGHT} requests in flight")
    running = in_flight(gateway)
    gateway.process.terminate()
    signalled = time.monotonic()
    async with httpx.AsyncClient(timeout=5) as probe:
        ready = await probe.get(gateway.url + "/health/ready")
    await asyncio.wait_for(load, drain_seconds + 10)
    code = await asyncio.to_thread(exit_code, gateway, drain_seconds + 10)
    exited_after = time.monotonic() - signalled
    rows = audit_rows(tmp_path)
    answered = set(result.answered_ids)
    complete = set(result.request_ids)
    drained = result.error_codes["draining"]
    recorded = answered & set(rows)
    statuses = Counter((rows[i]["status"], rows[i]["error_type"]) for i in recorded)
    figures = (
        f"in flight at SIGTERM {running:.0f}; {result.summary()}; finished in the drain {len(complete)}, "
        f"ended with draining {drained}, other errors {dict(result.error_codes - Counter(draining=drained))}; "
        f"readiness {ready.status_code} {ready.json()}; rows {len(recorded)} of {len(answered)} answers "
        f"{dict(statuses)}; exit {code} after {exited_after:.1f} s (drain {drain_seconds} s)"
    )
    print(figures)
    assert running >= IN_FLIGHT, figures
    assert (ready.status_code, ready.json()["status"]) == (503, "draining"), figures
    assert result.resets == 0, figures
    assert len(answered) == IN_FLIGHT, figures
    assert len(complete) + drained == IN_FLIGHT, figures
    assert complete, f"the drain cut everything instead of letting requests finish: {figures}"
    assert recorded == answered, figures
    assert statuses == Counter({("ok", None): len(complete), ("error", "service_unavailable"): drained}), figures
    assert all(rows[i]["status"] == "ok" for i in complete), figures
    assert code == 0, figures
    assert exited_after < drain_seconds + 8, figures


async def test_sigterm_with_an_open_stream_ends_it_with_the_draining_event_then_exits_0(
    launch_gateway, tmp_path, fake_upstream
):
    drain_seconds = 2
    gateway = launch_gateway(shutdown_drain_seconds=drain_seconds)
    tag = uuid.uuid4().hex[:8]
    stalled = chat(f"stall {tag}", "fake-model+stall_after=2", stream=True)
    sdk = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)

    # Two open streams: one read raw (to see the last frames), one by the OpenAI SDK.
    async with (
        httpx.AsyncClient(timeout=30, headers=AUTH) as raw,
        raw.stream("POST", gateway.base_url + "/chat/completions", json=stalled) as response,
    ):
        raw_id = response.headers["x-request-id"]
        lines = response.aiter_lines()
        first = [line async for line in _take(lines, 2)]
        stream = await sdk.chat.completions.with_raw_response.create(**stalled)
        sdk_id = stream.headers["x-request-id"]
        chunks = aiter(stream.parse())
        await anext(chunks)

        gateway.process.terminate()
        signalled = time.monotonic()
        ready = await raw.get(gateway.url + "/health/ready")
        ready_after = time.monotonic() - signalled
        refused = await raw.post(gateway.base_url + "/chat/completions", json=chat(tag, "fake-model", stream=False))

        with pytest.raises(openai.APIError) as raised:
            async for _ in chunks:
                pass
        sdk_ended_after = time.monotonic() - signalled
        rest = [line async for line in lines if line]
        raw_ended_after = time.monotonic() - signalled

    code = await asyncio.to_thread(exit_code, gateway, drain_seconds + 10)
    exited_after = time.monotonic() - signalled
    rows = audit_rows(tmp_path)
    cut = {request_id: rows.get(request_id) for request_id in (raw_id, sdk_id)}
    access = gateway.access_line(raw_id)
    figures = (
        f"readiness {ready.status_code} {ready.json()} after {ready_after * 1000:.0f} ms; new request "
        f"{refused.status_code} {refused.json()['error']['code']}; SDK stream ended after {sdk_ended_after:.2f} s "
        f"with {raised.value.code!r}; raw stream ended after {raw_ended_after:.2f} s with {rest[-2:]}; "
        f"exit {code} after {exited_after:.2f} s (drain {drain_seconds} s); rows "
        f"{[(r or {}).get('status') for r in cut.values()]} {[(r or {}).get('error_type') for r in cut.values()]}; "
        f"access line {access['outcome']} {access['error_code']}"
    )
    print(figures)
    assert first[0].startswith("data: {"), figures
    assert (ready.status_code, ready.json()["status"]) == (503, "draining"), figures
    assert ready_after < drain_seconds / 2, figures
    assert (refused.status_code, refused.json()["error"]["type"], refused.json()["error"]["code"]) == (
        503,
        "service_unavailable",
        "draining",
    ), figures
    assert raised.value.code == "draining", figures
    error = orjson.loads(rest[-2].removeprefix("data: "))["error"]
    assert (error["type"], error["code"]) == ("service_unavailable", "draining"), figures
    assert set(error) == {"message", "type", "param", "code"}, figures
    assert rest[-1] == "data: [DONE]", figures
    assert drain_seconds - 0.5 < raw_ended_after < drain_seconds + 2, figures
    assert code == 0, figures
    assert exited_after < drain_seconds + 5, figures
    for request_id, row in cut.items():
        assert row is not None, f"no audit row for {request_id}: {figures}"
        assert (row["status"], row["error_type"], row["http_status"]) == ("error", "service_unavailable", 200), figures
    assert (access["outcome"], access["error_type"], access["error_code"]) == (
        "error",
        "service_unavailable",
        "draining",
    ), figures
    # The cut closed the upstream calls: the fake model saw both streams' clients leave.
    for request in fake_upstream.requests_with(f"stall {tag}"):
        fake_upstream.wait_for_event(request["seq"], "disconnected", timeout=5)


async def test_a_quiet_stream_gets_keep_alive_comments_that_the_sdk_skips(start_gateway):
    gateway = start_gateway(sse_heartbeat_seconds=0.5)
    slow = chat(f"slow {uuid.uuid4().hex[:8]}", "fake-model+chunks=3x1500", stream=True)
    started = time.monotonic()
    async with (
        httpx.AsyncClient(timeout=30, headers=AUTH) as raw,
        raw.stream("POST", gateway.base_url + "/chat/completions", json=slow) as response,
    ):
        lines = [line async for line in response.aiter_lines() if line]
    seconds = time.monotonic() - started
    comments = [line for line in lines if line.startswith(":")]
    data = [line for line in lines if line.startswith("data: {")]
    raw_text = "".join(
        choice["delta"].get("content") or ""
        for line in data
        for choice in orjson.loads(line.removeprefix("data: "))["choices"]
    )

    sdk = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0)
    sdk_chunks = [chunk async for chunk in await sdk.chat.completions.create(**slow)]
    sdk_text = "".join(chunk.choices[0].delta.content or "" for chunk in sdk_chunks if chunk.choices)
    figures = (
        f"{len(comments)} keep-alive comments ({set(comments)}) among {len(data)} chunks 1.5 s apart "
        f"({seconds:.1f} s, heartbeat 0.5 s); SDK parsed {len(sdk_chunks)} chunks, text {sdk_text!r} (raw {raw_text!r})"
    )
    print(figures)
    assert set(comments) == {": keep-alive"}, figures
    assert len(comments) >= 2, figures
    assert lines[-1] == "data: [DONE]", figures
    assert sdk_text == raw_text, figures
    assert sdk_text.startswith("Echo: slow"), figures


async def _take(lines, count: int):
    """The first `count` non-empty lines of a stream, leaving the rest unread."""
    taken = 0
    async for line in lines:
        if line:
            yield line
            taken += 1
            if taken == count:
                return
