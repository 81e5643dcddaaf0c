"""The audit rows per second one Postgres takes, written the way the gateway writes them.

A database of its own on the Postgres server the tests use (TEST_DATABASE_URL, default the
machine's own at 127.0.0.1:5432), created and dropped here by tests/support/databases.py,
migrated by the gateway's own migrations. Then `writers` tasks, each what one replica's
audit writer does with a queue that never runs dry: `AuditStore.insert` of a batch of
`batch` rows (the gateway's AUDIT_BATCH_SIZE default; one INSERT ... ON CONFLICT DO NOTHING,
committed) and at once the next. The rows are a passthrough request's, each its own
request_id, as `audit_row` builds them from a `RequestRecord`.

Measured: rows stored per second, and the CPU of the Postgres backends serving those
connections (read from /proc, so the server must be on this machine), which gives the rows
per second per Postgres core: the sizing figure, whoever else shares the machine. The writers
run in this one process, so on a small machine they, not Postgres, may be the limit; the
backends' share of a core says which.

    python bench/audit_rate.py [--seconds 10] [--writers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.audit.row import Row, audit_row  # noqa: E402
from api.audit.store import AuditStore  # noqa: E402
from api.config import Settings  # noqa: E402
from api.request_record import RequestRecord  # noqa: E402
from tests.support.databases import drop, postgres_database  # noqa: E402

BATCH = Settings.model_fields["audit_batch_size"].default


def passthrough_row() -> Row:
    """A row as a non-streamed passthrough request through LiteLLM leaves it."""
    record = RequestRecord(request_id="template", method="POST", path="/v1/chat/completions")
    record.route_path, record.route_reason, record.model, record.requested_model = (
        "passthrough",
        "default",
        "gpt-4o-mini",
        "gpt-4o-mini",
    )
    record.stream, record.http_status, record.latency_ms, record.upstream_ms = False, 200, 412.7, 410.9
    record.prompt_tokens, record.completion_tokens, record.cost_usd = 24, 112, 0.0000708
    record.prompt_sha256, record.prompt_chars, record.message_count = "ab" * 32, 96, 2
    record.client_id, record.client, record.trace_id = "token-" + "cd" * 8, "bench-client", "ef" * 16
    record.client_request_id, record.session_id = "client-req-0001", "session-0001"
    record.upstream_model, record.attempted_retries, record.attempted_fallbacks, record.cache_hit = (
        "gpt-4o-mini",
        0,
        0,
        False,
    )
    return audit_row(record)


def cpu_seconds(pids: list[int]) -> float:
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def backends(url: str) -> list[int]:
    """The server processes serving the store's connections to the database of `url`."""
    server = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        query = "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()"
        return sorted(row["pid"] for row in await server.fetch(query, make_url(url).database))
    finally:
        await server.close()


#: The store's pool (api/audit/engine.py): more writers than this would open and close
#: overflow connections per batch, whose backends come and go between the CPU readings.
POOL_SIZE = 5


async def measure(seconds: float, writers: int, batch: int = BATCH) -> dict[str, Any]:
    if not 1 <= writers <= POOL_SIZE:
        raise ValueError(f"writers: 1 to {POOL_SIZE} (the audit store's pool size)")
    database = await postgres_database()
    store = AuditStore(database.url)
    store.open()
    try:
        await store.migrate()
        template = passthrough_row()
        run = uuid.uuid4().hex[:8]
        written = [0] * writers

        async def write(writer: int, deadline: float | None, batches: int | None = None) -> None:
            done = 0
            while (deadline is None or time.monotonic() < deadline) and (batches is None or done < batches):
                rows = [{**template, "request_id": f"{run}-{writer}-{done}-{i}"} for i in range(batch)]
                written[writer] += await store.insert(rows)
                done += 1

        # One batch from each writer first: opens the pool's connections, so their backends
        # exist (and are measured) from the start, and warms the statement caches.
        await asyncio.gather(*(write(w, None, 1) for w in range(writers)))
        pids = await backends(database.url)
        written = [0] * writers
        cpu_before, started = cpu_seconds(pids), time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(write(w, deadline) for w in range(writers)))
        elapsed = time.monotonic() - started
        postgres_cpu = cpu_seconds(pids) - cpu_before
        stored = await database.count()
        table_bytes = await table_size(database.url)
        rows = sum(written)
        if stored != rows + writers * batch:
            raise RuntimeError(f"{rows + writers * batch} rows written, {stored} in the table")
        return {
            "writers": writers,
            "batch": batch,
            "seconds": round(elapsed, 2),
            "rows": rows,
            "rows_per_s": rows / elapsed,
            "postgres_cores_busy": postgres_cpu / elapsed,
            "postgres_cpu_ms_per_1k_rows": postgres_cpu / rows * 1e6,
            "rows_per_s_per_postgres_core": rows / postgres_cpu if postgres_cpu else None,
            "bytes_per_row": table_bytes / stored,  # table, indexes and TOAST: the disk a row takes
            "server": await server_facts(database.url),
        }
    finally:
        await store.close()
        await drop(database)


async def table_size(url: str) -> int:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        return await connection.fetchval("SELECT pg_total_relation_size('audit_log')")
    finally:
        await connection.close()


async def server_facts(url: str) -> dict[str, str]:
    connection = await asyncpg.connect(make_url(url).set(drivername="postgresql").render_as_string(False))
    try:
        facts = {"version": (await connection.fetchval("SHOW server_version")).split()[0]}
        for setting in ("synchronous_commit", "shared_buffers", "wal_level"):
            facts[setting] = await connection.fetchval(f"SHOW {setting}")
        return facts
    finally:
        await connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=BATCH)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.seconds, args.writers, args.batch)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
