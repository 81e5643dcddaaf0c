"""The audit store: idempotent batch inserts, the audit queries and usage, on Postgres or SQLite.

This is the boundary for SQLAlchemy and the drivers: their exceptions become
`AuditStoreUnavailable` (the store cannot be used now: retry later; a 503 for readers)
or `RowsRejected` (the store is up but refused these rows), and nothing else leaves.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Table, func, inspect, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from api.audit.engine import display_url, make_engine
from api.audit.models import AUDIT_FIELDS, TABLE_NAME, AuditRow
from api.audit.query import AuditQuery, Cursor
from api.audit.row import Row
from api.audit.usage import UsageQuery, usage_groups, usage_statement
from api.errors import ServiceUnavailableError

AUDIT_TABLE: Table = AuditRow.__table__  # type: ignore[assignment]
_DIALECT_INSERT = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


class AuditStoreUnavailable(ServiceUnavailableError):
    """The audit store cannot be reached or used right now (down, refusing, no table yet)."""

    default_code = "audit_store_unavailable"


class RowsRejected(Exception):
    """The store is up but refused a batch (a value it cannot hold); retrying it cannot help."""


class AuditStore:
    """One engine for the audit table; `open()` at start-up, `close()` at shutdown."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.target = display_url(url)
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("AuditStore.open() has not run")
        return self._engine

    def open(self) -> None:
        """Create the engine (no connection yet; a SQLite file's folder is created)."""
        self._engine = make_engine(self.url)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def migrate(self) -> None:
        """Upgrade the schema to the newest revision (a no-op when it is there already)."""
        # Alembic (and Mako under it) is about 17 MB resident: imported only by a gateway that
        # migrates, not by one started as deploy/kubernetes starts it (AUDIT_MIGRATE_ON_START=false
        # behind an init container).
        from api.audit import migrate

        with self._translated("migrating"):
            async with self.engine.begin() as connection:
                await connection.run_sync(migrate.upgrade)

    async def ping(self) -> None:
        """Raise `AuditStoreUnavailable` unless the store answers and has the audit table."""
        with self._translated("checking"):
            async with self.engine.connect() as connection:
                exists = await connection.run_sync(lambda sync: inspect(sync).has_table(TABLE_NAME))
        if not exists:
            raise AuditStoreUnavailable(
                f"The audit table does not exist in {self.target}: run `make migrate` "
                "or start the gateway with AUDIT_MIGRATE_ON_START=true."
            )

    async def insert(self, rows: Sequence[Row]) -> int:
        """Insert `rows`, skipping any whose request_id is stored already; returns how many were new."""
        if not rows:
            return 0
        with self._translated("writing"):
            try:
                async with self.engine.begin() as connection:
                    # One statement object with the rows as parameters: SQLAlchemy compiles it once
                    # and batches the rows itself ("insertmanyvalues"). Building `.values(rows)`
                    # instead compiled a new statement for every batch, the gateway's top CPU cost.
                    result = await connection.execute(_insert_statement(self.engine.dialect.name), list(rows))
            except (IntegrityError, DataError) as exc:
                raise RowsRejected(_reason(exc)) from exc
        return len(result.all())  # RETURNING names only the rows that were new

    async def get(self, request_id: str, client: str | None = None) -> Row | None:
        """The row of one request (only if it is `client`'s, when given), or None."""
        statement = select(AUDIT_TABLE).where(AUDIT_TABLE.c.request_id == request_id)
        if client is not None:
            statement = statement.where(AUDIT_TABLE.c.client == client)
        with self._translated("reading"):
            async with self.engine.connect() as connection:
                found = (await connection.execute(statement)).mappings().first()
        return _public(found) if found is not None else None

    async def page(self, query: AuditQuery) -> tuple[list[Row], Cursor | None]:
        """Rows matching `query`, newest first, and the cursor of the next page (None on the last)."""
        c = AUDIT_TABLE.c
        statement = select(AUDIT_TABLE).order_by(c.created_at.desc(), c.id.desc()).limit(query.limit + 1)
        filters = (
            (c.route_path, query.route),
            (c.status, query.status),
            (c.model, query.model),
            (c.client_request_id, query.client_request_id),
            (c.client, query.client),
        )
        for column, wanted in filters:
            if wanted is not None:
                statement = statement.where(column == wanted)
        if query.since is not None:
            statement = statement.where(c.created_at >= query.since)
        if query.after is not None:
            statement = statement.where(tuple_(c.created_at, c.id) < tuple_(query.after.created_at, query.after.id))
        with self._translated("reading"):
            async with self.engine.connect() as connection:
                found = (await connection.execute(statement)).mappings().all()
        rows = found[: query.limit]
        more = len(found) > query.limit
        return [_public(r) for r in rows], Cursor(rows[-1]["created_at"], rows[-1]["id"]) if more else None

    async def spent_since(self, client: str, since: datetime) -> float:
        """The summed `cost_usd` of `client`'s rows from `since` on (unpriced rows count 0)."""
        c = AUDIT_TABLE.c
        statement = select(func.coalesce(func.sum(c.cost_usd), 0.0)).where(c.client == client, c.created_at >= since)
        with self._translated("reading"):
            async with self.engine.connect() as connection:
                total = (await connection.execute(statement)).scalar_one()
        return float(total)

    async def usage(self, query: UsageQuery) -> list[dict[str, Any]]:
        """The usage groups of `query` (api/audit/usage.py), ordered by their keys."""
        with self._translated("reading"):
            async with self.engine.connect() as connection:
                found = (await connection.execute(usage_statement(AUDIT_TABLE, query))).mappings().all()
        return usage_groups(list(found), query.group_by)

    @contextmanager
    def _translated(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (SQLAlchemyError, OSError) as exc:  # OSError: refused, reset, timed out
            raise AuditStoreUnavailable(f"The audit store {self.target} failed while {doing}: {_reason(exc)}") from exc


@functools.cache
def _insert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (request_id) DO NOTHING RETURNING request_id, built once per dialect."""
    statement = _DIALECT_INSERT[dialect](AUDIT_TABLE).on_conflict_do_nothing(index_elements=["request_id"])
    return statement.returning(AUDIT_TABLE.c.request_id)


def _public(found: Any) -> Row:
    return {name: found[name] for name in AUDIT_FIELDS}


def _reason(exc: BaseException) -> str:
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = str(original).strip().splitlines()
    return text[0] if text else type(original).__name__
