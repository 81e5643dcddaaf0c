"""The audit trail through the real stack: openai SDK → gateway → LiteLLM → fake model, rows in a real store.

Every `/v1/chat/completions` request leaves exactly one row, whatever its outcome; no
row holds the prompt (or the answer, which the fake model echoes); nothing is lost
under load, while the store is away, or when the gateway stops with a full queue.
Postgres outages go through a TCP forwarder the test closes and reopens: the shared
server itself is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import OPS_HEADERS, TOKEN, Gateway
from tests.support.databases import TestDatabase, via
from tests.support.processes import REPO
from tests.support.tcp_forwarder import TcpForwarder
from tests.support.waiting import until_equal

AUTH = {"Authorization": f"Bearer {TOKEN}"}
LOAD_PROMPT = f"load test prompt {uuid.uuid4().hex}"  # must never reach a row or the journal
FAST_FLUSH = {"audit_flush_interval_seconds": 0.05}


def client_request_id(label: str) -> str:
    """An id of the client's own, sent as X-Client-Request-Id (the gateway makes the X-Request-Id)."""
    return f"{label}-{uuid.uuid4().hex[:10]}"


def canonical_sha256(messages: list[dict]) -> str:
    """The contract's prompt hash, computed independently of the gateway's code."""
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def sdk(gateway: Gateway, token: str = TOKEN, **options: object) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=gateway.base_url, api_key=token, max_retries=0, **options)


async def leave_mid_stream(gateway: Gateway, body: dict, rid: str) -> None:
    """Read two events of a stream, then drop the connection."""
    async with (
        httpx.AsyncClient(timeout=10) as http,
        http.stream(
            "POST", gateway.base_url + "/chat/completions", json=body, headers={**AUTH, "X-Client-Request-Id": rid}
        ) as response,
    ):
        assert response.status_code == 200
        seen = 0
        async for line in response.aiter_lines():
            seen += line.startswith("data: ")
            if seen == 2:
                break


async def give_up_waiting(gateway: Gateway, body: dict, rid: str) -> None:
    """Send a request the model never answers and leave after half a second."""
    with contextlib.suppress(httpx.ReadTimeout):
        async with httpx.AsyncClient(timeout=0.5) as http:
            await http.post(
                gateway.base_url + "/chat/completions", json=body, headers={**AUTH, "X-Client-Request-Id": rid}
            )


# ---- one row per request, for every outcome ------------------------------------------------


async def test_every_outcome_leaves_exactly_one_row_with_the_right_fields(database: TestDatabase, launch_gateway):
    gateway = launch_gateway(database_url=database.url, **FAST_FLUSH)
    secret = f"my password is {uuid.uuid4().hex}"
    user = [{"role": "system", "content": "be terse"}, {"role": "user", "content": secret}]
    client = sdk(gateway)
    ids: dict[str, str] = {}

    ids["ok"] = client_request_id("ok")
    await client.chat.completions.create(
        model="gpt-4o", messages=user, extra_headers={"X-Client-Request-Id": ids["ok"], "X-Session-ID": "sess-audit"}
    )
    ids["stream"] = client_request_id("stream")
    stream = await client.chat.completions.create(
        model="fake-model+chunks=4x5", messages=user, stream=True, extra_headers={"X-Client-Request-Id": ids["stream"]}
    )
    assert [chunk async for chunk in stream]
    ids["upstream_429"] = client_request_id("upstream-429")
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(
            model="fake-model+error=429", messages=user, extra_headers={"X-Client-Request-Id": ids["upstream_429"]}
        )
    ids["upstream_500"] = client_request_id("upstream-500")
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(
            model="fake-model+error=500", messages=user, extra_headers={"X-Client-Request-Id": ids["upstream_500"]}
        )
    ids["invalid"] = client_request_id("invalid")
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "wizard", "content": secret}],
            extra_headers={"X-Client-Request-Id": ids["invalid"]},
        )
    ids["bad_json"] = client_request_id("bad-json")
    async with httpx.AsyncClient() as http:
        response = await http.post(
            gateway.base_url + "/chat/completions",
            content=f'{{"model": "gpt-4o", "messages": [{{"content": "{secret}"'.encode(),
            headers={**AUTH, "X-Client-Request-Id": ids["bad_json"], "Content-Type": "application/json"},
        )
        assert response.status_code == 400
    ids["auth"] = client_request_id("auth")
    with pytest.raises(openai.AuthenticationError):
        await sdk(gateway, token="wrong-token").chat.completions.create(
            model="gpt-4o", messages=user, extra_headers={"X-Client-Request-Id": ids["auth"]}
        )
    ids["orchestration"] = client_request_id("orchestration")
    with pytest.raises(openai.APIStatusError):
        await client.chat.completions.create(
            model="gpt-4o",
            messages=user,
            extra_headers={"X-Client-Request-Id": ids["orchestration"], "X-Routing-Mode": "orchestration"},
        )
    ids["cancelled"] = client_request_id("cancelled")
    await give_up_waiting(gateway, {"model": "fake-model+stall", "messages": user}, ids["cancelled"])
    ids["cancelled_stream"] = client_request_id("cancelled-stream")
    await leave_mid_stream(
        gateway, {"model": "fake-model+chunks=200x50", "messages": user, "stream": True}, ids["cancelled_stream"]
    )
    # Requests that are not chat completions leave no row.
    async with httpx.AsyncClient(headers=AUTH) as http:
        assert (await http.get(gateway.base_url + "/models")).status_code == 200
        assert (await http.get(gateway.url + "/health/ready")).status_code == 200

    await until_equal(database.count, len(ids))
    rows = {row["client_request_id"]: row for row in await database.rows()}
    assert set(rows) == set(ids.values())
    ours = {row["request_id"] for row in rows.values()}
    assert len(ours) == len(ids)  # the gateway's own ids, one per request, none of them the client's
    assert not ours & set(ids.values())

    client_id = hashlib.sha256(TOKEN.encode()).hexdigest()[:16]
    ok = rows[ids["ok"]]
    assert ok["status"] == "ok"
    assert (ok["http_status"], ok["error_type"]) == (200, None)
    assert (ok["route_path"], ok["route_reason"], ok["model"], bool(ok["stream"])) == (
        "passthrough",
        "default",
        "gpt-4o",
        False,
    )
    assert ok["prompt_sha256"] == canonical_sha256(user)
    assert (ok["prompt_chars"], ok["message_count"]) == (len("be terse") + len(secret), 2)
    assert ok["prompt_tokens"] > 0
    assert ok["completion_tokens"] > 0
    assert 0 < ok["upstream_ms"] < ok["latency_ms"]
    assert ok["ttft_ms"] is None
    assert (ok["client_id"], ok["session_id"], ok["trace_id"]) == (client_id, "sess-audit", None)
    assert (ok["reasoning_steps"], ok["tool_calls"]) == (None, None)  # until the reasoning path fills them

    streamed = rows[ids["stream"]]
    assert (streamed["status"], streamed["http_status"], bool(streamed["stream"])) == ("ok", 200, True)
    assert 0 < streamed["ttft_ms"] <= streamed["latency_ms"]
    assert streamed["completion_tokens"] > 0

    for key, status, error_type in [
        ("upstream_429", 429, "rate_limit_error"),
        ("upstream_500", 502, "upstream_error"),
        ("invalid", 400, "invalid_request_error"),
        ("bad_json", 400, "invalid_request_error"),
        ("auth", 401, "authentication_error"),
        ("orchestration", 501, "not_implemented"),
    ]:
        row = rows[ids[key]]
        assert (row["status"], row["http_status"], row["error_type"]) == ("error", status, error_type), key
    assert rows[ids["upstream_429"]]["model"] == "fake-model+error=429"
    assert rows[ids["upstream_429"]]["client_id"] == client_id
    assert rows[ids["invalid"]]["client_id"] == client_id  # validated after auth: the client is known
    assert (rows[ids["invalid"]]["route_path"], rows[ids["invalid"]]["prompt_sha256"]) == (None, None)
    assert rows[ids["auth"]]["client_id"] is None
    assert (rows[ids["orchestration"]]["route_path"], rows[ids["orchestration"]]["route_reason"]) == (
        "orchestration",
        "header_orchestration",
    )
    assert (rows[ids["cancelled"]]["status"], rows[ids["cancelled"]]["http_status"]) == ("cancelled", 499)
    cancelled_stream = rows[ids["cancelled_stream"]]
    assert (cancelled_stream["status"], cancelled_stream["http_status"]) == ("cancelled", 200)

    # No raw prompt, answer or token anywhere in the table, nor in the database's files.
    text = await database.table_text()
    assert secret not in text
    assert "be terse" not in text
    assert TOKEN not in text
    if database.kind == "sqlite":
        database_file = Path(database.url.split("///", 1)[1])
        for path in database_file.parent.glob(database_file.name + "*"):
            assert secret.encode() not in path.read_bytes(), path

    # The API answers the same row, by the gateway's id.
    async with httpx.AsyncClient(headers=AUTH) as http:
        via_api = (await http.get(f"{gateway.base_url}/audit/{ok['request_id']}")).json()
    assert via_api["client_request_id"] == ids["ok"]
    assert {k: v for k, v in via_api.items() if k != "created_at"} == {
        k: (bool(v) if k == "stream" else v) for k, v in ok.items() if k not in ("id", "created_at")
    }


# ---- the audit API -----------------------------------------------------------------------------


async def test_the_audit_api_reads_one_row_and_lists_with_filters_and_a_cursor(gateway):
    model = f"fake-model+say=audit_{uuid.uuid4().hex[:8]}"  # a model name only this test uses
    client = sdk(gateway)
    sent = []  # the gateway's ids (X-Request-Id of each answer)
    for n in range(5):
        raw = await client.chat.completions.with_raw_response.create(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Client-Request-Id": "list-client" if n == 1 else f"list-{n}"},
        )
        sent.append(raw.headers["x-request-id"])
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Client-Request-Id": "list-client", "X-Routing-Mode": "turbo"},
        )
    failed = caught.value.response.headers["x-request-id"]

    async with httpx.AsyncClient(base_url=gateway.base_url, headers=AUTH) as http:

        async def listing(**params: object) -> dict:
            response = await http.get("/audit", params=params)
            assert response.status_code == 200, response.text
            return response.json()

        await until_equal(lambda: _count(listing(model=model, limit=500)), 6)

        one = await http.get(f"/audit/{sent[2]}")
        assert one.status_code == 200
        assert (one.json()["request_id"], one.json()["model"], one.json()["status"]) == (sent[2], model, "ok")

        first = await listing(model=model, status="ok", limit=2)
        assert first["object"] == "list"
        assert [r["request_id"] for r in first["data"]] == [sent[4], sent[3]]  # newest first
        second = await listing(model=model, status="ok", limit=2, cursor=first["next_cursor"])
        third = await listing(model=model, status="ok", limit=2, cursor=second["next_cursor"])
        assert [r["request_id"] for r in second["data"] + third["data"]] == [sent[2], sent[1], sent[0]]
        assert third["next_cursor"] is None

        assert [r["request_id"] for r in (await listing(model=model, status="error"))["data"]] == [failed]
        # The bad header was refused before a route was chosen: that row has no route.
        assert [r["request_id"] for r in (await listing(model=model, route="passthrough"))["data"]] == sent[::-1]
        assert (await listing(model=model, route="reasoning"))["data"] == []
        created = first["data"][-1]["created_at"]  # sent[3]
        since = [r["request_id"] for r in (await listing(model=model, since=created))["data"]]
        assert since == [failed, sent[4], sent[3]]
        # The caller's own id finds its requests: two of them used the same one, two rows.
        mine = await listing(model=model, client_request_id="list-client")
        assert [r["request_id"] for r in mine["data"]] == [failed, sent[1]]
        assert (await listing(client_request_id=f"nobody-{uuid.uuid4().hex}"))["data"] == []

        for params, param in [
            ({"limit": 501}, "limit"),
            ({"limit": 0}, "limit"),
            ({"status": "fine"}, "status"),
            ({"route": "teleport"}, "route"),
            ({"since": "last tuesday"}, "since"),
            ({"cursor": "garbage!"}, "cursor"),
        ]:
            response = await http.get("/audit", params=params)
            assert response.status_code == 400, params
            assert response.json()["error"]["param"] == param
            assert response.json()["error"]["type"] == "invalid_request_error"

        missing = await http.get("/audit/no-such-request")
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        assert set(missing.json()["error"]) == {"message", "type", "param", "code"}

    async with httpx.AsyncClient(base_url=gateway.base_url) as anonymous:
        for path in ("/audit", f"/audit/{sent[0]}"):
            refused = await anonymous.get(path)
            assert refused.status_code == 401
            assert refused.json()["error"]["code"] == "invalid_api_key"


async def _count(listing) -> int:
    return len((await listing)["data"])


async def test_the_row_keeps_the_model_asked_for_beside_the_model_sent(start_gateway):
    gateway = start_gateway(**FAST_FLUSH)
    raw = await sdk(gateway).chat.completions.with_raw_response.create(
        model="reasoning/gpt-4o",
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"X-Routing-Mode": "passthrough"},  # the header wins over the prefix
    )
    rid = raw.headers["x-request-id"]
    async with httpx.AsyncClient(headers=AUTH) as http:
        url = f"{gateway.base_url}/audit/{rid}"

        async def status() -> int:
            return (await http.get(url)).status_code

        await until_equal(status, 200)  # the writer flushes in the background
        row = (await http.get(url)).json()
    assert (row["model"], row["requested_model"]) == ("gpt-4o", "reasoning/gpt-4o")
    assert row["route_reason"] == "header_passthrough"


# ---- nothing lost --------------------------------------------------------------------------


async def send_many(
    gateway: Gateway, count: int, *, concurrency: int = 50, progress: dict[int, object] | None = None
) -> list[str]:
    """`count` chat completions from `concurrency` concurrent SDK callers; all must succeed.

    Returns the gateway's request ids. `progress` maps a number of finished requests to a
    callback (sync or async) run right then.
    """
    client = sdk(gateway, timeout=60)
    ids: list[str] = []
    pending = iter(range(count))
    finished = 0

    async def caller() -> None:
        nonlocal finished
        for _ in pending:
            raw = await client.chat.completions.with_raw_response.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": LOAD_PROMPT}]
            )
            ids.append(raw.headers["x-request-id"])
            finished += 1
            hook = (progress or {}).get(finished)
            if hook is not None:
                result = hook()
                if asyncio.iscoroutine(result):
                    await result

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    await client.close()
    return ids


def journal_files(workdir: Path) -> list[Path]:
    """The gateway's journal files that still hold rows (data/audit-journal, the default)."""
    found = []
    for path in (workdir / "data" / "audit-journal").glob("journal-*.jsonl"):
        with contextlib.suppress(FileNotFoundError):  # deleted since the listing: its rows are stored
            if path.stat().st_size:
                found.append(path)
    return found


def journaled_lines(workdir: Path) -> int:
    lines = 0
    for path in journal_files(workdir):
        with contextlib.suppress(FileNotFoundError):
            lines += len(path.read_bytes().splitlines())
    return lines


async def audit_readiness(gateway: Gateway) -> tuple[int, dict]:
    async with httpx.AsyncClient() as http:
        response = await http.get(gateway.url + "/health/ready", headers=OPS_HEADERS)
    return response.status_code, response.json()["components"]["audit"]


LOAD_TEST_TIMEOUT = pytest.mark.timeout(600)  # 2,000 requests through LiteLLM on a shared 2-core machine


@LOAD_TEST_TIMEOUT
async def test_2000_requests_at_concurrency_50_leave_exactly_2000_rows(database: TestDatabase, launch_gateway):
    gateway = launch_gateway(database_url=database.url)
    ids = await send_many(gateway, 2000)
    await until_equal(database.count, 2000)
    assert await database.distinct_request_ids() == 2000
    assert {row["request_id"] for row in await database.rows()} == set(ids)
    assert LOAD_PROMPT not in await database.table_text()


@LOAD_TEST_TIMEOUT
async def test_2000_requests_with_the_store_away_for_half_of_them_still_leave_2000_rows(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, launch_gateway, tmp_path: Path
):
    gateway = launch_gateway(
        database_url=via(postgres_db, postgres_forwarder.host, postgres_forwarder.port),
        audit_queue_size=200,  # small, so the outage overflows it: the journal alone holds the rest
    )
    seen_during_outage: dict[str, object] = {}

    async def look_at_the_outage() -> None:
        seen_during_outage["ready"] = await audit_readiness(gateway)
        seen_during_outage["journaled"] = journaled_lines(tmp_path)
        async with httpx.AsyncClient(headers=AUTH) as http:
            seen_during_outage["listing"] = await http.get(gateway.base_url + "/audit")

    ids = await send_many(
        gateway,
        2000,
        progress={500: postgres_forwarder.close, 1400: look_at_the_outage, 1500: postgres_forwarder.open},
    )  # every request succeeded, the outage notwithstanding

    status, audit = seen_during_outage["ready"]
    assert status == 200  # the audit store is not critical
    assert audit["status"] == "down"
    assert seen_during_outage["journaled"] > 200  # more than the queue holds: the journal has them
    listing = seen_during_outage["listing"]
    assert listing.status_code == 503  # reading the trail needs the store; the SDKs retry a 503
    assert listing.json()["error"]["code"] == "audit_store_unavailable"
    await until_equal(postgres_db.count, 2000)
    assert await postgres_db.distinct_request_ids() == 2000
    assert {row["request_id"] for row in await postgres_db.rows()} == set(ids)
    await until_equal(lambda: journal_files(tmp_path), [])
    await until_equal(lambda: _audit_status(gateway), "ok")
    logs = gateway.logs()
    assert '"audit_store_unavailable"' in logs
    assert '"audit_store_recovered"' in logs


async def _audit_status(gateway: Gateway) -> str:
    return (await audit_readiness(gateway))[1]["status"]


@LOAD_TEST_TIMEOUT
async def test_a_dead_store_at_start_and_a_shutdown_with_a_full_queue_lose_nothing(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, launch_gateway, tmp_path: Path
):
    """The store is away from the start; the gateway starts anyway, serves, journals, stops, and a restart replays."""
    postgres_forwarder.close()
    workdir = tmp_path / "gateway"
    workdir.mkdir()
    settings = {
        "database_url": via(postgres_db, postgres_forwarder.host, postgres_forwarder.port),
        "audit_queue_size": 50,
        "audit_shutdown_drain_seconds": 1,
    }
    gateway = launch_gateway(cwd=workdir, **settings)
    status, audit = await audit_readiness(gateway)
    assert (status, audit["status"]) == (200, "down")

    ids = await send_many(gateway, 300, concurrency=20)
    # Every row is in the journal before its answer completes; the 50 queued are there too.
    assert journaled_lines(workdir) == 300
    gateway.process.stop()  # SIGTERM: the drain cannot reach the store, so the rows stay in the journal
    assert journaled_lines(workdir) == 300
    assert '"audit_rows_left_in_journal"' in gateway.logs()
    assert LOAD_PROMPT.encode() not in b"".join(path.read_bytes() for path in journal_files(workdir))

    postgres_forwarder.open()
    launch_gateway(cwd=workdir, **settings)
    await until_equal(postgres_db.count, 300)
    assert {row["request_id"] for row in await postgres_db.rows()} == set(ids)
    await until_equal(lambda: journal_files(workdir), [])


async def test_with_migrations_off_rows_wait_for_make_migrate(postgres_db: TestDatabase, launch_gateway):
    gateway = launch_gateway(database_url=postgres_db.url, audit_migrate_on_start="false", **FAST_FLUSH)
    status, audit = await audit_readiness(gateway)
    assert (status, audit["status"]) == (200, "down")
    assert "make migrate" in audit["detail"]
    assert await postgres_db.tables() == set()  # the gateway did not migrate

    ids = await send_many(gateway, 3, concurrency=3)
    make = await asyncio.create_subprocess_exec(
        "make", "-s", "migrate", cwd=REPO, env={**os.environ, "DATABASE_URL": postgres_db.url}
    )
    assert await make.wait() == 0
    await until_equal(postgres_db.count, 3)
    assert {row["request_id"] for row in await postgres_db.rows()} == set(ids)
    await until_equal(lambda: _audit_status(gateway), "ok")


# ---- reasoning requests record their steps, tool calls and trace --------------------------------


async def test_a_reasoning_request_records_its_steps_tool_calls_and_trace(start_gateway, demo_mcp, tmp_path):
    config = tmp_path / "servers.yaml"
    config.write_text(json.dumps({"servers": [{"name": "demo", "url": demo_mcp.url + "/mcp"}]}))
    # Tracing on (to a collector that is not there: exports fail quietly) so rows carry a trace id.
    gateway = start_gateway(mcp_servers_config=config, otel_exporter_otlp_endpoint="http://127.0.0.1:9", **FAST_FLUSH)
    async with httpx.AsyncClient(headers=AUTH, timeout=30) as http:
        for _ in range(300):  # the demo MCP server connects in the background
            if (await http.get(gateway.url + "/tools")).json()["data"]:
                break
            await asyncio.sleep(0.05)
        response = await http.post(
            gateway.base_url + "/chat/completions",
            json={"model": "fake-model+agent=two_tools", "messages": [{"role": "user", "content": "Oslo?"}]},
            headers={"X-Routing-Mode": "reasoning", "X-Session-ID": "audit-sess"},
        )
        assert response.status_code == 200
        rid = response.headers["x-request-id"]

        async def status() -> int:
            return (await http.get(f"{gateway.base_url}/audit/{rid}")).status_code

        await until_equal(status, 200)  # the row is written off the request path
        audit = (await http.get(f"{gateway.base_url}/audit/{rid}")).json()
    assert (audit["route_path"], audit["route_reason"], audit["status"]) == ("reasoning", "header_reasoning", "ok")
    assert (audit["reasoning_steps"], audit["tool_calls"]) == (2, 2)
    assert audit["prompt_tokens"] > 0
    assert audit["session_id"] == "audit-sess"
    assert audit["trace_id"] == response.headers["x-trace-id"]
