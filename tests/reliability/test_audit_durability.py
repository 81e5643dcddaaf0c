"""Nothing lost: every complete answer has its audit row, however the gateway process dies.

Real processes throughout: the gateway under uvicorn (its default loop), the real LiteLLM
proxy in front of the fake model, a real Postgres database behind a TCP forwarder that a
test closes (an outage) and reopens. Each test drives a bounded load (tests/support/load.py),
SIGKILLs a gateway process in the middle of it, starts it again on the same files (or lets
uvicorn replace the worker) and counts: every request id of a complete answer has its row,
none has two. A row may exist for an answer the kill cut short (its row is journaled just
before the last bytes leave); at most one per request in flight. Figures are printed
(`pytest -s`) and asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from pathlib import Path

import pytest

from tests.conftest import TOKEN, Gateway
from tests.support.databases import TestDatabase, via
from tests.support.load import LoadResult, run_load, until_answered
from tests.support.tcp_forwarder import TcpForwarder
from tests.support.waiting import until_equal

# Each test is a few hundred requests through LiteLLM plus two gateway starts; the margin is for
# a 2-core machine shared with other suites, where LiteLLM alone can take a second per request.
pytestmark = pytest.mark.timeout(240)

AUTH = {"Authorization": f"Bearer {TOKEN}"}
REQUESTS = 300
CONCURRENCY = 20
KILL_AFTER = 80  # complete answers before the kill


def body_for(index: int) -> dict:
    """Half JSON answers, half streams: the row must be journaled before either one completes."""
    if index % 2:
        return {"model": "fake-model+chunks=4x5", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return {"model": "fake-model+latency=10", "messages": [{"role": "user", "content": f"hello {index}"}]}


def start_load(
    gateway: Gateway, result: LoadResult, requests: int = REQUESTS, headers: dict[str, str] | None = None
) -> asyncio.Task[LoadResult]:
    url = gateway.base_url + "/chat/completions"
    headers = {**AUTH, **(headers or {})}
    load = run_load(url, body_for, requests=requests, concurrency=CONCURRENCY, headers=headers, result=result)
    return asyncio.create_task(load)


def journal_lines(workdir: Path, slot: int | None = None) -> int:
    """Rows in the journal files under `workdir` (of one slot, or all)."""
    pattern = f"journal-{slot}-*.jsonl" if slot is not None else "journal-*.jsonl"
    lines = 0
    for path in (workdir / "data" / "audit-journal").glob(pattern):
        with contextlib.suppress(FileNotFoundError):  # deleted since the listing: its rows are stored
            lines += len(path.read_bytes().splitlines())
    return lines


def slot_owner(workdir: Path, slot: int) -> int | None:
    """The pid that holds journal slot `slot` (written into its lock file when claimed)."""
    path = workdir / "data" / "audit-journal" / f"journal-{slot}.lock"
    text = path.read_text().strip() if path.exists() else ""
    return int(text) if text else None


def sigkill(gateway: Gateway) -> None:
    """Kill the gateway's process group at once: no shutdown, no drain, no flush."""
    process = gateway.process.process
    assert process is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def settle(database: TestDatabase, workdir: Path, answered: set[str]) -> tuple[int, int, int, int]:
    """Wait for the restarted gateway to replay its journal; (rows, distinct ids, lost, extra)."""
    await until_equal(lambda: journal_lines(workdir), 0)
    stored = [row["request_id"] for row in await database.rows()]
    ids = set(stored)
    return len(stored), len(ids), len(answered - ids), len(ids - answered)


def report(name: str, result: LoadResult, figures: tuple[int, int, int, int], **more: object) -> str:
    rows, distinct, lost, extra = figures
    extras = "".join(f", {key} {value}" for key, value in more.items())
    line = (
        f"{name}: {result.summary()}; answered (complete) {result.complete}, rows after restart {rows}, "
        f"lost {lost}, duplicates {rows - distinct}, rows of answers cut by the kill {extra}{extras}"
    )
    print(line)
    return line


def assert_nothing_lost(figures: tuple[int, int, int, int], line: str) -> None:
    rows, distinct, lost, extra = figures
    assert lost == 0, line  # every complete answer has its row
    assert rows == distinct, line  # and none has two
    assert extra <= CONCURRENCY, line  # rows of answers the kill cut: at most one per request in flight


async def test_sigkill_under_load_with_the_database_up_loses_no_row(
    postgres_db: TestDatabase, launch_gateway, tmp_path: Path
):
    settings = {"database_url": postgres_db.url}
    gateway = launch_gateway(cwd=tmp_path, **settings)
    result = LoadResult()
    load = start_load(gateway, result)
    await until_answered(result, KILL_AFTER)
    sigkill(gateway)
    await load
    before_restart = await postgres_db.count()

    launch_gateway(cwd=tmp_path, **settings)
    figures = await settle(postgres_db, tmp_path, set(result.request_ids))
    line = report("SIGKILL, database up", result, figures, rows_before_restart=before_restart)
    assert result.complete >= KILL_AFTER, line
    assert_nothing_lost(figures, line)


async def test_sigkill_during_a_database_outage_loses_no_row(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, launch_gateway, tmp_path: Path
):
    settings = {"database_url": via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)}
    gateway = launch_gateway(cwd=tmp_path, **settings)  # migrates while the database is reachable
    postgres_forwarder.close()
    result = LoadResult()
    load = start_load(gateway, result)
    await until_answered(result, KILL_AFTER)
    journaled = journal_lines(tmp_path)
    sigkill(gateway)
    await load
    postgres_forwarder.open()
    before_restart = await postgres_db.count()

    launch_gateway(cwd=tmp_path, **settings)
    figures = await settle(postgres_db, tmp_path, set(result.request_ids))
    line = report(
        "SIGKILL during an outage", result, figures, rows_before_restart=before_restart, journaled_at_kill=journaled
    )
    assert before_restart == 0, line  # nothing reached the store: every row came back from the journal
    assert_nothing_lost(figures, line)


async def test_two_workers_each_journal_and_a_killed_worker_loses_no_row(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, launch_gateway, tmp_path: Path
):
    settings = {"database_url": via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)}
    gateway = launch_gateway(cwd=tmp_path, uvicorn_args=("--workers", "2"), **settings)
    await until_equal(lambda: all(slot_owner(tmp_path, slot) for slot in (0, 1)), True)  # no crash-loop
    owners = {slot: slot_owner(tmp_path, slot) for slot in (0, 1)}

    served = await start_load(gateway, LoadResult(), requests=60)  # the database is up: rows go straight in
    await until_equal(postgres_db.count, served.complete)

    postgres_forwarder.close()  # now rows stay in each worker's journal: count them per slot
    during_outage = LoadResult()
    # A connection per request, so the kernel hands connections to both workers many times over.
    load = start_load(gateway, during_outage, requests=150, headers={"Connection": "close"})
    await until_answered(during_outage, KILL_AFTER)
    per_slot = {slot: journal_lines(tmp_path, slot) for slot in (0, 1)}
    os.kill(owners[1], signal.SIGKILL)  # one worker dies with its rows on disk only
    await load
    await until_equal(lambda: slot_owner(tmp_path, 1) not in (None, owners[1]), True)  # uvicorn replaced it
    postgres_forwarder.open()

    answered = set(served.request_ids) | set(during_outage.request_ids)
    figures = await settle(postgres_db, tmp_path, answered)
    line = report(
        "--workers 2, one SIGKILLed during an outage",
        during_outage,
        figures,
        answered_before_outage=served.complete,
        journal_rows_per_slot_at_kill=per_slot,
        worker_pids=owners,
        replacement_pid=slot_owner(tmp_path, 1),
    )
    assert served.complete == 60, line
    assert per_slot[0] > 0, line  # both worker processes served and journaled
    assert per_slot[1] > 0, line
    assert_nothing_lost(figures, line)
