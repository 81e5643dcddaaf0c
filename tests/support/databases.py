"""Fresh audit databases for tests: a SQLite file, or a new database on the real Postgres server.

The Postgres server is `TEST_DATABASE_URL` (default: the machine's own server on
127.0.0.1:5432, user postgres, trust auth). Each test gets a database of its own,
created here and dropped after; a server that does not answer is a test failure with
a message saying what to do, never a skip.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from api.config import normalise_database_url

POSTGRES_SERVER_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TABLE = "audit_log"


@dataclass
class TestDatabase:
    """One empty database; `url` is what the gateway's DATABASE_URL would say."""

    __test__ = False  # not a test class, despite its name

    kind: str  # "sqlite" or "postgres"
    url: str
    engine: AsyncEngine

    async def rows(self) -> list[dict[str, Any]]:
        async with self.engine.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM {TABLE} ORDER BY id"))
            return [dict(row) for row in result.mappings()]

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(f"SELECT count(*) FROM {TABLE}"))).scalar_one()

    async def distinct_request_ids(self) -> int:
        async with self.engine.connect() as connection:
            query = text(f"SELECT count(DISTINCT request_id) FROM {TABLE}")
            return (await connection.execute(query)).scalar_one()

    async def table_text(self) -> str:
        """Every value of every row as text: what a search of the whole table sees."""
        return "\n".join(" ".join(str(value) for value in row.values()) for row in await self.rows())

    async def tables(self) -> set[str]:
        async with self.engine.connect() as connection:
            return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))


async def sqlite_database(folder: Path) -> TestDatabase:
    url = normalise_database_url(f"sqlite:///{folder / 'audit.db'}")
    return TestDatabase("sqlite", url, create_async_engine(url))


async def postgres_database() -> TestDatabase:
    """A new, empty database on the test Postgres server."""
    name = f"audit_test_{uuid.uuid4().hex[:12]}"
    server = await _connect_server()
    try:
        await server.execute(f'CREATE DATABASE "{name}"')
    finally:
        await server.close()
    url = normalise_database_url(make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(False))
    return TestDatabase("postgres", url, create_async_engine(url, pool_size=2))


async def drop(database: TestDatabase) -> None:
    await database.engine.dispose()
    if database.kind != "postgres":
        return
    server = await _connect_server()
    try:
        # FORCE: a gateway a test left behind (or its pool) must not keep the database alive.
        await server.execute(f'DROP DATABASE IF EXISTS "{make_url(database.url).database}" WITH (FORCE)')
    finally:
        await server.close()


def postgres_address() -> tuple[str, int]:
    url = make_url(POSTGRES_SERVER_URL)
    return url.host or "127.0.0.1", url.port or 5432


def via(database: TestDatabase, host: str, port: int) -> str:
    """The database's URL reached through another address (a forwarder in front of the server)."""
    return make_url(database.url).set(host=host, port=port).render_as_string(hide_password=False)


async def _connect_server() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(POSTGRES_SERVER_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(POSTGRES_SERVER_URL).render_as_string(hide_password=True)} "
            f"({exc!r}). The audit tests need a real server: start it (`.ci/run` does: scripts/ensure_postgres.sh), "
            "or set TEST_DATABASE_URL=postgresql://user:password@host:port/postgres to a server where that user "
            "may create databases."
        )
