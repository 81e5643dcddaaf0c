"""The async SQLAlchemy engine for the audit store: asyncpg for Postgres, aiosqlite for SQLite."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

CONNECT_TIMEOUT_SECONDS = 5.0
STATEMENT_TIMEOUT_SECONDS = 30.0


def make_engine(url: str) -> AsyncEngine:
    """An engine for `url` (already normalised by Settings); creates a SQLite file's folder.

    No connection is opened here: a database that is down costs nothing until it is used,
    and every use is bounded (connect and statement timeouts) so a stalled server cannot
    hold the writer or a readiness check forever.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(
        parsed,
        pool_size=5,
        max_overflow=5,
        pool_timeout=CONNECT_TIMEOUT_SECONDS,
        pool_pre_ping=True,  # a server restart leaves dead pooled connections; find them before use
        connect_args={
            "timeout": CONNECT_TIMEOUT_SECONDS,
            "command_timeout": STATEMENT_TIMEOUT_SECONDS,
            "server_settings": {"application_name": "reasoning-agent-api"},
        },
    )


def display_url(url: str) -> str:
    """The URL fit for logs and readiness details (no password)."""
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_engine(url: URL) -> AsyncEngine:
    # A folder that cannot be made is reported when the store is used (readiness says why),
    # never as a failed start-up.
    with contextlib.suppress(OSError):
        Path(url.database or "").parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": CONNECT_TIMEOUT_SECONDS})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # WAL lets the audit API read while the writer inserts; NORMAL is durable across
        # a process crash, which is what the audit journal protects against too.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine
