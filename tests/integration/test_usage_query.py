"""Usage aggregates over the real audit store (SQLite and Postgres), and the index that serves
one client's usage over a time range on Postgres with 100k rows."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from api.audit.store import AUDIT_TABLE, AuditStore
from api.audit.usage import UsageQuery, total_of, usage_statement
from tests.integration.test_audit_store import migrated_store, row
from tests.support.databases import TestDatabase

# Just before and after midnight UTC: `day` must split them whatever the server's time zone.
LATE = datetime(2030, 1, 1, 23, 59, 30, tzinfo=UTC)
EARLY = datetime(2030, 1, 2, 0, 0, 30, tzinfo=UTC)


async def seeded(database: TestDatabase) -> AuditStore:
    store = await migrated_store(database.url)
    rows = [
        row(1, client="a", model="gpt-4o", created_at=LATE, prompt_tokens=10, completion_tokens=5, cost_usd=0.5),
        row(2, client="a", model="gpt-4o", created_at=EARLY, prompt_tokens=20, completion_tokens=5, cost_usd=0.25),
        row(3, client="a", model="mystery", created_at=EARLY, prompt_tokens=7, completion_tokens=1, cost_usd=None),
        row(4, client="b", model="gpt-4o", created_at=EARLY, status="error", cost_usd=0.0, route_path="reasoning"),
    ]
    await store.insert(rows)
    return store


async def test_usage_groups_by_client_model_route_and_utc_day(database: TestDatabase):
    store = await seeded(database)
    try:
        groups = await store.usage(UsageQuery(group_by=("client", "day")))
        print(groups)
        assert [(g["client"], g["day"], g["requests"]) for g in groups] == [
            ("a", "2030-01-01", 1),
            ("a", "2030-01-02", 2),
            ("b", "2030-01-02", 1),
        ]
        a_second = groups[1]
        assert a_second["prompt_tokens"] == 27
        assert a_second["completion_tokens"] == 6
        assert a_second["cost_usd"] == 0.25
        assert a_second["cost_unknown_requests"] == 1
        assert groups[2]["errors"] == 1

        by_route = await store.usage(UsageQuery(group_by=("route",)))
        assert {g["route"]: g["requests"] for g in by_route} == {"passthrough": 3, "reasoning": 1}

        total = total_of(await store.usage(UsageQuery()))
        assert total == {
            "requests": 4,
            "errors": 1,
            "prompt_tokens": 37,
            "completion_tokens": 11,
            "cost_usd": 0.75,
            "cost_unknown_requests": 1,
        }
    finally:
        await store.close()


async def test_usage_of_one_client_in_a_half_open_range(database: TestDatabase):
    store = await seeded(database)
    try:
        own = await store.usage(UsageQuery(client="a", since=LATE + timedelta(seconds=1), until=EARLY))
        assert own == []  # `until` is exclusive: the rows at EARLY are outside
        own = await store.usage(UsageQuery(client="a", since=EARLY, group_by=("model",)))
        assert [(g["model"], g["requests"]) for g in own] == [("gpt-4o", 1), ("mystery", 1)]
        assert await store.usage(UsageQuery(client="nobody")) == []
    finally:
        await store.close()


ROWS = 100_000
CLIENTS = 50
DAYS = 90


@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_one_clients_usage_over_a_time_range_uses_the_client_index(database: TestDatabase):
    """100k rows of 50 clients over 90 days: a week of one client is read through
    (client, created_at, id), not by scanning the table."""
    store = await migrated_store(database.url)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    rng = random.Random(13)
    try:
        async with store.engine.begin() as connection:
            # Bulk-filled in SQL: 100k rows through the writer would take the test's whole time.
            await connection.execute(
                text(
                    "INSERT INTO audit_log (request_id, created_at, status, model, route_path, client, "
                    "prompt_tokens, completion_tokens, cost_usd) "
                    "SELECT 'bulk-' || n, "
                    "CAST(:start AS timestamptz) + n * CAST(:spread AS float8) * interval '1 second', "
                    "CASE WHEN n % 20 = 0 THEN 'error' ELSE 'ok' END, 'gpt-4o', 'passthrough', "
                    "'client-' || (n % :clients), 10, 5, 0.001 FROM generate_series(1, :rows) AS n"
                ),
                {"start": start, "spread": DAYS * 86400 / ROWS, "clients": CLIENTS, "rows": ROWS},
            )
            await connection.execute(text("ANALYZE audit_log"))
        since = start + timedelta(days=rng.randrange(DAYS - 7))
        query = UsageQuery(since=since, until=since + timedelta(days=7), group_by=("day",), client="client-7")
        compiled = usage_statement(AUDIT_TABLE, query).compile(
            dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        async with store.engine.connect() as connection:
            plan = [line for (line,) in await connection.execute(text(f"EXPLAIN ANALYZE {compiled}"))]
        print("\n".join(plan))
        assert not any("Seq Scan" in line for line in plan), plan
        assert any("ix_audit_log_client_created_at" in line for line in plan), plan

        groups = await store.usage(query)
        print(groups)
        assert len(groups) == 7
        assert sum(g["requests"] for g in groups) == pytest.approx(ROWS / CLIENTS * 7 / DAYS, rel=0.05)
    finally:
        await store.close()
