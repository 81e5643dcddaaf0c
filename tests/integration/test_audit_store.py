"""The audit store and writer against real databases: every test runs on SQLite and on Postgres.

Each test gets an empty database of its own (`database` fixture). Tests that take the
store away run on Postgres only, through a TCP forwarder the test closes and reopens
(the shared server itself is never stopped); an embedded SQLite file cannot go away
while its connections are open.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from api.audit import migrate
from api.audit.journal import Journal
from api.audit.models import AUDIT_FIELDS, Base
from api.audit.query import AuditQuery
from api.audit.readiness import AuditStoreCheck
from api.audit.row import audit_row, row_to_json
from api.audit.store import AuditStore, AuditStoreUnavailable
from api.audit.writer import AuditWriter, WriterLimits
from api.request_record import RequestRecord
from tests.support.databases import TestDatabase, via
from tests.support.processes import REPO
from tests.support.tcp_forwarder import TcpForwarder
from tests.support.waiting import until_equal

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def record(n: int = 0, **fields: object) -> RequestRecord:
    rec = RequestRecord(request_id=f"req-{n:05d}-{uuid.uuid4().hex[:6]}", method="POST", path="/v1/chat/completions")
    rec.route_path, rec.route_reason, rec.model, rec.stream = "passthrough", "default", "gpt-4o", False
    rec.http_status, rec.latency_ms, rec.prompt_sha256, rec.message_count = 200, 12.5, "ab" * 32, 1
    for name, value in fields.items():
        setattr(rec, name, value)
    return rec


def row(n: int = 0, **fields: object) -> dict:
    return audit_row(record(n, **fields))


def limits(**overrides: float) -> WriterLimits:
    values = {"queue_size": 1000, "batch_size": 50, "flush_interval": 0.05, "drain_deadline": 5.0} | overrides
    return WriterLimits(**values)  # type: ignore[arg-type]


async def migrated_store(url: str) -> AuditStore:
    store = AuditStore(url)
    store.open()
    await store.migrate()
    return store


def writer_on(
    url: str, journal_dir: Path, *, migrate: bool = True, max_bytes: int = 1 << 30, **overrides: float
) -> AuditWriter:
    return AuditWriter(AuditStore(url), Journal(journal_dir, max_bytes), limits(**overrides), migrate=migrate)


async def readiness(writer: AuditWriter) -> str:
    return (await AuditStoreCheck(writer).check()).status


def journal_lines(folder: Path) -> int:
    """Rows in every journal file of the folder (whichever process's slot they are in)."""
    return sum(len(path.read_bytes().splitlines()) for path in folder.glob("journal-*.jsonl"))


def leave_journal(folder: Path, slot: int, seq: int, rows: list[dict], tail: bytes = b"") -> Path:
    """A journal file as a process that died would have left it (no lock held)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"journal-{slot}-{seq:06d}.jsonl"
    path.write_bytes(b"".join(row_to_json(r) + b"\n" for r in rows) + tail)
    return path


# ---- migrations -------------------------------------------------------------------------


async def test_migrations_upgrade_an_empty_database_and_downgrade_it_back(database: TestDatabase):
    assert await database.tables() == set()

    await migrate.on_database(database.url, migrate.upgrade)
    assert await database.tables() == {"audit_log", "alembic_version"}
    assert await migrate.on_database(database.url, migrate.current_revision) == "0007_orchestration_tasks"

    async with database.engine.connect() as connection:
        indexes, unique = await connection.run_sync(
            lambda sync: (inspect(sync).get_indexes("audit_log"), inspect(sync).get_unique_constraints("audit_log"))
        )
    by_name = {index["name"]: index["column_names"] for index in indexes}
    assert by_name["ix_audit_log_created_at"] == ["created_at", "id"]
    for column in ("route_path", "status", "model", "client_request_id"):
        assert by_name[f"ix_audit_log_{column}_created_at"] == [column, "created_at", "id"]
    assert [u["column_names"] for u in unique] == [["request_id"]]

    await migrate.on_database(database.url, migrate.upgrade)  # a second start finds nothing to do
    await migrate.on_database(database.url, migrate.downgrade, "base")
    assert await database.tables() == {"alembic_version"}
    assert await migrate.on_database(database.url, migrate.current_revision) is None


async def test_a_trail_written_before_requested_model_and_client_request_id_upgrades_in_place(
    database: TestDatabase,
):
    await migrate.on_database(database.url, migrate.upgrade, "0001_audit_log")
    async with database.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO audit_log (request_id, created_at, status, model) "
                "VALUES ('old-row', '2026-01-01 00:00:00+00:00', 'ok', 'gpt-4o')"
            )
        )

    await migrate.on_database(database.url, migrate.upgrade)
    store = AuditStore(database.url)
    store.open()
    fresh = row(1, model="gpt-4o", requested_model="reasoning/gpt-4o", client_request_id="mine-1")
    try:
        assert await store.insert([fresh]) == 1
        old, new = await store.get("old-row"), await store.get(fresh["request_id"])
    finally:
        await store.close()
    assert old is not None
    assert new is not None
    assert (old["model"], old["requested_model"], old["client_request_id"]) == ("gpt-4o", None, None)
    assert (new["model"], new["requested_model"], new["client_request_id"]) == ("gpt-4o", "reasoning/gpt-4o", "mine-1")


async def test_the_migrated_schema_is_exactly_the_model(database: TestDatabase):
    await migrate.on_database(database.url, migrate.upgrade)

    def differences(sync_connection):
        context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []
    columns = [c["name"] for c in await _columns(database)]
    assert columns == ["id", *AUDIT_FIELDS]


async def _columns(database: TestDatabase) -> list[dict]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(lambda sync: inspect(sync).get_columns("audit_log"))


def test_make_migrate_upgrades_the_database_from_the_environment(database: TestDatabase):
    env = {**os.environ, "DATABASE_URL": database.url}
    subprocess.run(["make", "-s", "migrate"], cwd=REPO, env=env, check=True, capture_output=True, timeout=120)
    current = subprocess.run(
        [sys.executable, "-m", "api.audit.migrate", "current"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert current.stdout.strip() == "0007_orchestration_tasks"


# api/audit/migrations/env.py's MIGRATION_LOCK_KEY (that module runs only under Alembic).
MIGRATION_LOCK_KEY = 0x41554454


async def test_migrations_started_together_on_postgres_wait_for_one_another_and_all_succeed(
    postgres_db: TestDatabase,
):
    """Pods starting together each run the migration (deploy/kubernetes: an init container per pod).

    The test holds the migrations' advisory lock while three `make migrate` processes start, so
    they are certain to meet at it; released, one migrates and the others find the schema done."""
    holder = await asyncpg.connect(make_url(postgres_db.url).set(drivername="postgresql").render_as_string(False))
    await holder.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    env = {**os.environ, "DATABASE_URL": postgres_db.url}
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.audit.migrate", "upgrade", cwd=REPO, env=env, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    try:
        waiting = (  # pg_locks lists the whole server's: only this database's count
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        await until_equal(lambda: holder.fetchval(waiting), len(processes))
        assert await postgres_db.tables() == set(), "nothing migrated while the lock was held"
    finally:
        await holder.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
        await holder.close()
    outcomes = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), timeout=120)
    failed = [err.decode()[-400:] for p, (_, err) in zip(processes, outcomes, strict=True) if p.returncode != 0]
    assert not failed, failed
    head = ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
    assert await migrate.on_database(postgres_db.url, migrate.current_revision) == head
    assert await postgres_db.tables() == {"audit_log", "alembic_version"}


# ---- the store --------------------------------------------------------------------------


async def test_inserts_are_idempotent_by_request_id(database: TestDatabase):
    store = await migrated_store(database.url)
    first = [row(n) for n in range(3)]
    assert await store.insert(first) == 3
    assert await store.insert([*first, row(3)]) == 1  # a replay of stored rows adds only the new one
    assert await database.count() == 4
    assert await database.distinct_request_ids() == 4
    await store.close()


async def test_a_row_reads_back_with_every_field_and_an_aware_timestamp(database: TestDatabase):
    store = await migrated_store(database.url)
    written = row(
        1,
        stream=True,
        ttft_ms=3.25,
        upstream_ms=9.5,
        prompt_tokens=12,
        completion_tokens=7,
        reasoning_steps=2,
        tool_calls=1,
        prompt_chars=42,
        client_id="c" * 16,
        session_id="sess-1",
        trace_id="f" * 32,
        created_at=datetime(2030, 1, 1, 14, 0, tzinfo=(timedelta(hours=2) and None) or UTC),
    )
    await store.insert([written])
    found = await store.get(written["request_id"])
    assert found == written
    assert found["created_at"].tzinfo is not None
    assert await store.get("no-such-request") is None
    await store.close()


async def test_timestamps_with_any_offset_are_stored_as_the_same_instant(database: TestDatabase):
    store = await migrated_store(database.url)
    plus_two = T0.astimezone(timezone(timedelta(hours=2)))
    written = row(1, created_at=plus_two)
    await store.insert([written])
    assert (await store.get(written["request_id"]))["created_at"] == plus_two
    page, _ = await store.page(AuditQuery(since=plus_two))
    assert [r["request_id"] for r in page] == [written["request_id"]]
    await store.close()


async def test_listing_is_newest_first_with_filters_and_a_cursor(database: TestDatabase):
    store = await migrated_store(database.url)
    rows = [
        row(n, created_at=T0 + timedelta(seconds=n // 2))  # pairs share a timestamp: the cursor must not skip
        for n in range(9)
    ]
    rows[1].update(status="error", error_type="rate_limit_error", http_status=429)
    rows[4].update(route_path="reasoning", route_reason="model_reasoning", model="o3")
    rows[7].update(status="cancelled", http_status=499)
    for n in (2, 5):
        rows[n].update(client_request_id="same-client-id")
    await store.insert(rows)

    newest_first = sorted(rows, key=lambda r: r["created_at"], reverse=True)
    seen, cursor, pages = [], None, 0
    while True:
        page, after = await store.page(AuditQuery(limit=2, after=cursor))
        seen += page
        pages += 1
        if after is None:
            break
        cursor = after
    assert pages == 5
    assert [r["request_id"] for r in seen] == _ids_in_order(newest_first, rows)
    assert [r["created_at"] for r in seen] == [r["created_at"] for r in newest_first]

    async def ids(**filters) -> set[str]:
        page, _ = await store.page(AuditQuery(**filters))
        return {r["request_id"] for r in page}

    assert await ids(status="error") == {rows[1]["request_id"]}
    assert await ids(status="cancelled") == {rows[7]["request_id"]}
    assert await ids(route="reasoning") == {rows[4]["request_id"]}
    assert await ids(model="o3") == {rows[4]["request_id"]}
    assert await ids(route="passthrough", status="ok") == {r["request_id"] for r in rows} - {
        rows[1]["request_id"],
        rows[4]["request_id"],
        rows[7]["request_id"],
    }
    assert await ids(since=T0 + timedelta(seconds=3)) == {r["request_id"] for r in rows[6:]}
    assert await ids(model="nobody") == set()
    assert await ids(client_request_id="same-client-id") == {rows[2]["request_id"], rows[5]["request_id"]}
    await store.close()


def _ids_in_order(newest_first: list[dict], rows: list[dict]) -> list[str]:
    # Equal timestamps come out in reverse insertion order (the id breaks the tie).
    position = {r["request_id"]: i for i, r in enumerate(rows)}
    return [
        r["request_id"]
        for r in sorted(newest_first, key=lambda r: (r["created_at"], position[r["request_id"]]), reverse=True)
    ]


async def test_readiness_says_down_when_the_table_is_missing(database: TestDatabase, tmp_path: Path):
    writer = writer_on(database.url, tmp_path / "journal", migrate=False)
    await writer.start()
    health = await AuditStoreCheck(writer).check()
    assert health.status == "down"
    assert "make migrate" in health.detail
    with pytest.raises(AuditStoreUnavailable):
        await writer.store.get("anything")

    rows = [record(n) for n in range(5)]
    for rec in rows:
        writer.request_finished(rec)
    await asyncio.sleep(0.3)  # the writer retries; nothing can be written without the table
    assert writer.stats().rows_written == 0

    await migrate.on_database(database.url, migrate.upgrade)  # an operator runs `make migrate`
    await until_equal(database.count, 5)
    await until_equal(lambda: readiness(writer), "ok")
    await writer.close()


# ---- the writer ---------------------------------------------------------------------------


async def test_request_finished_journals_and_enqueues_and_rows_arrive_in_batches(
    database: TestDatabase, tmp_path: Path
):
    journal = tmp_path / "journal"
    writer = writer_on(database.url, journal, batch_size=10)
    await writer.start()
    records = [record(n) for n in range(25)]
    for rec in records:
        writer.request_finished(rec)  # synchronous: nothing can have been written yet
    not_chat = RequestRecord(request_id="models-call", method="GET", path="/v1/models")
    writer.request_finished(not_chat)
    assert writer.stats().queue_depth == 25
    assert writer.stats().rows_written == 0
    assert journal_lines(journal) == 25  # on disk before anything else happens: a kill now loses nothing
    assert writer.stats().journal_bytes == sum(p.stat().st_size for p in journal.glob("journal-*.jsonl"))

    await until_equal(database.count, 25)
    stats = writer.stats()
    assert (stats.queue_depth, stats.rows_written, stats.rows_spilled, stats.rows_dropped) == (0, 25, 0, 0)
    stored = {r["request_id"]: r for r in await database.rows()}
    assert set(stored) == {rec.request_id for rec in records}
    await until_equal(lambda: journal_lines(journal), 0)  # stored rows leave the journal
    assert writer.stats().journal_bytes == 0
    assert await readiness(writer) == "ok"
    await writer.close()


async def test_a_full_queue_leaves_rows_in_the_journal_and_they_are_replayed(database: TestDatabase, tmp_path: Path):
    journal = tmp_path / "journal"
    writer = writer_on(database.url, journal, queue_size=5, batch_size=5)
    await writer.start()
    records = [record(n) for n in range(40)]
    for rec in records:  # no await in between: the writer cannot take any, so 35 overflow
        writer.request_finished(rec)
    stats = writer.stats()
    assert (stats.queue_depth, stats.rows_spilled) == (5, 35)
    assert journal_lines(journal) == 40

    await until_equal(database.count, 40)
    assert await database.distinct_request_ids() == 40
    assert writer.stats().rows_written == 40
    await until_equal(lambda: writer.journal.pending, False)
    await until_equal(lambda: journal_lines(journal), 0)
    await writer.close()


async def test_shutdown_drains_the_queue(database: TestDatabase, tmp_path: Path):
    journal = tmp_path / "journal"
    writer = writer_on(database.url, journal, batch_size=20, flush_interval=10)
    await writer.start()
    for n in range(50):
        writer.request_finished(record(n))
    await writer.close()  # a 10 s flush interval: only the drain can have written them
    assert await database.count() == 50
    assert journal_lines(journal) == 0
    assert list(journal.glob("journal-*.jsonl")) == []  # an empty journal is not left behind


async def test_replays_never_duplicate_rows(database: TestDatabase, tmp_path: Path):
    """Leftovers of earlier runs (this slot's, a dead slot's, a torn line) overlap the store."""
    journal = tmp_path / "journal"
    store = await migrated_store(database.url)
    stored = [row(n) for n in range(10)]
    await store.insert(stored)
    await store.close()

    leave_journal(journal, 0, 1, stored[5:] + [row(n) for n in range(10, 15)], b'{"request_id": "torn-by-a-cr')
    leave_journal(journal, 3, 7, [row(n) for n in range(15, 20)], b'{"request_id": "torn')  # a dead worker's

    writer = writer_on(database.url, journal, batch_size=4)
    await writer.start()
    assert writer.journal.slot == 0
    writer.request_finished(record(99))
    await until_equal(database.count, 21)
    await until_equal(lambda: writer.journal.pending, False)
    assert await database.distinct_request_ids() == 21
    assert writer.stats().rows_written == 11  # 10 from the files, 1 live; the 5 overlaps added nothing
    await until_equal(lambda: journal_lines(journal), 0)
    assert not list(journal.glob("journal-3-*"))  # taken over, replayed, deleted
    await writer.close()


async def test_segments_rotate_under_load_and_are_deleted_once_stored(
    database: TestDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr("api.audit.journal.SEGMENT_BYTES", 2000)  # a few rows a segment
    journal = tmp_path / "journal"
    writer = writer_on(database.url, journal, batch_size=10)
    await writer.start()
    for wave in range(5):
        for n in range(20):
            writer.request_finished(record(wave * 20 + n))
        await asyncio.sleep(0.1)  # let the writer store a batch and rotate between waves
    await until_equal(database.count, 100)
    await until_equal(lambda: journal_lines(journal), 0)
    assert writer.journal.path is not None
    assert writer.journal.path.name != "journal-0-000001.jsonl"  # it rotated
    assert len(list(journal.glob("journal-*.jsonl"))) == 1  # only the active segment is left
    await writer.close()


async def test_a_live_slot_is_left_alone_and_a_dead_one_taken_over(database: TestDatabase, tmp_path: Path):
    journal = tmp_path / "journal"
    live = Journal(journal, 1 << 20)
    live.open()  # slot 0, held: its rows are its own business
    assert live.append(row_to_json(row(0))) is not None
    leave_journal(journal, 1, 1, [row(n) for n in range(1, 4)])  # slot 1: nobody holds its lock

    writer = writer_on(database.url, journal)
    await writer.start()
    assert writer.journal.slot == 1  # the first free slot
    await until_equal(database.count, 3)
    # The taken-over files are truncated once their rows are committed, a moment after the
    # count shows them; the live slot's row stays where it is.
    await until_equal(lambda: journal_lines(journal), 1)
    await writer.close()
    live.close()


async def test_the_journal_is_capped_and_what_finds_no_room_is_counted(database: TestDatabase, tmp_path: Path):
    journal = tmp_path / "journal"
    line = len(row_to_json(row(0))) + 1
    # Room for about 10 rows on disk and 5 in memory; the store has no table, so nothing leaves.
    writer = writer_on(
        database.url, journal, migrate=False, max_bytes=10 * line + line // 2, queue_size=5, drain_deadline=0.2
    )
    await writer.start()
    for n in range(30):
        writer.request_finished(record(n))
    stats = writer.stats()
    assert stats.journal_bytes <= 10 * line + line // 2
    assert journal_lines(journal) == 10
    assert (stats.queue_depth, stats.rows_spilled, stats.rows_dropped) == (5, 5, 20)
    await writer.close()


async def test_with_the_journal_off_rows_live_in_memory_only(database: TestDatabase, tmp_path: Path):
    journal = tmp_path / "journal"
    writer = writer_on(database.url, journal, max_bytes=0, queue_size=5)
    await writer.start()
    for n in range(8):
        writer.request_finished(record(n))
    assert journal_lines(journal) == 0
    assert writer.stats().rows_dropped == 3
    await until_equal(database.count, 5)
    await writer.close()


async def test_a_row_the_store_refuses_does_not_block_its_batch(database: TestDatabase, tmp_path: Path):
    writer = writer_on(database.url, tmp_path / "journal")
    await writer.start()
    good = [record(n) for n in range(6)]
    bad = record(6, status=None)  # NOT NULL: the store refuses it, forever
    for rec in [*good[:3], bad, *good[3:]]:
        writer.request_finished(rec)
    await until_equal(database.count, 6)
    await until_equal(lambda: writer.stats().rows_dropped, 1)
    assert writer.stats().rows_written == 6
    await writer.close()


def test_journals_in_one_folder_take_a_slot_each(tmp_path: Path):
    first, second = Journal(tmp_path, 1 << 20), Journal(tmp_path, 1 << 20)
    first.open()
    second.open()  # a second worker: no crash, a slot of its own
    assert (first.slot, second.slot) == (0, 1)
    assert (tmp_path / "journal-1.lock").read_text().strip() == str(os.getpid())
    first.close()
    again = Journal(tmp_path, 1 << 20)
    again.open()  # slot 0 is free again once its owner let go
    assert again.slot == 0
    again.close()
    second.close()


# ---- the store goes away (Postgres, through a forwarder the test controls) ---------------


async def test_rows_wait_while_the_store_is_down_and_arrive_when_it_is_back(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, tmp_path: Path
):
    url = via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)
    writer = writer_on(url, tmp_path / "journal", batch_size=10)
    await writer.start()
    writer.request_finished(record(0))
    await until_equal(postgres_db.count, 1)
    assert await readiness(writer) == "ok"

    postgres_forwarder.close()
    for n in range(1, 31):
        writer.request_finished(record(n))
    await until_equal(lambda: writer.last_error is not None, True)
    health = await AuditStoreCheck(writer).check()
    assert health.status == "down"
    assert "rows queued" in health.detail
    assert await postgres_db.count() == 1  # the database itself is fine: only the path to it is cut

    postgres_forwarder.open()
    await until_equal(postgres_db.count, 31)
    await until_equal(lambda: readiness(writer), "ok")
    assert writer.stats().rows_written == 31
    assert writer.last_error is None
    await writer.close()


async def test_a_store_down_at_start_up_does_not_stop_the_start(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, tmp_path: Path
):
    postgres_forwarder.close()
    url = via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)
    writer = writer_on(url, tmp_path / "journal")
    await writer.start()  # returns: the store refused, the writer keeps trying in the background
    assert writer.last_error is not None
    for n in range(12):
        writer.request_finished(record(n))

    postgres_forwarder.open()
    await until_equal(lambda: writer.last_error, None)  # migrated
    await until_equal(postgres_db.count, 12)
    await writer.close()


async def test_shutdown_with_the_store_down_keeps_the_queue_in_the_journal_for_the_next_start(
    postgres_db: TestDatabase, postgres_forwarder: TcpForwarder, tmp_path: Path
):
    journal = tmp_path / "journal"
    url = via(postgres_db, postgres_forwarder.host, postgres_forwarder.port)
    writer = writer_on(url, journal, drain_deadline=0.5)
    await writer.start()
    postgres_forwarder.close()
    for n in range(40):
        writer.request_finished(record(n))
    await writer.close()  # tries for half a second; the rows stay in the journal
    assert journal_lines(journal) == 40
    writer.request_finished(record(40))  # a straggler after close finds no journal: counted as lost
    assert writer.stats().rows_dropped == 1

    postgres_forwarder.open()
    assert await postgres_db.count() == 0
    after_restart = writer_on(url, journal)
    await after_restart.start()
    await until_equal(postgres_db.count, 40)
    await until_equal(lambda: after_restart.journal.pending, False)
    assert after_restart.stats().rows_written == 40
    await after_restart.close()
    assert journal_lines(journal) == 0
