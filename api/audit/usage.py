"""`GET /v1/usage` as a value and as one aggregate statement over the audit table.

Pure apart from building the SQL: the store runs it. Every group is a set of rows with the
same values of the `group_by` keys; `day` is the row's UTC calendar day (`YYYY-MM-DD`), on
Postgres and SQLite alike. Costs: `cost_usd` sums the rows whose cost is known and
`cost_unknown_requests` counts the others, so a reader sees how much the sum leaves out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, String, Table, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from api.errors import InvalidRequestError

GROUP_KEYS = ("client", "model", "route", "day")
TOTALS = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost_usd", "cost_unknown_requests")


@dataclass(frozen=True, slots=True)
class UsageQuery:
    """Rows created in [since, until), of one client or (None) of all, grouped by `group_by`."""

    since: datetime | None = None
    until: datetime | None = None
    group_by: tuple[str, ...] = ()
    client: str | None = None


def parse_group_by(value: str | None) -> tuple[str, ...]:
    """`client,model` → ("client", "model"), in the caller's order; a 400 naming `group_by` otherwise."""
    keys = tuple(key.strip() for key in (value or "").split(",") if key.strip())
    unknown = [key for key in keys if key not in GROUP_KEYS]
    if unknown or len(set(keys)) != len(keys):
        raise InvalidRequestError(
            f"Invalid value for 'group_by': {value!r}. Use a comma-separated list of distinct keys "
            f"from {', '.join(GROUP_KEYS)}.",
            code="invalid_value",
            param="group_by",
        )
    return keys


def usage_range(since: datetime | None, until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """The range in UTC (a time without an offset is UTC); a 400 naming `until` when it is empty."""
    since, until = _utc(since), _utc(until)
    if since is not None and until is not None and until <= since:
        raise InvalidRequestError(
            "Invalid value for 'until': it must be later than 'since'.", code="invalid_value", param="until"
        )
    return since, until


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class utc_day(FunctionElement[str]):
    """The UTC calendar day of a timestamp as `YYYY-MM-DD` text."""

    type = String()
    inherit_cache = True


@compiles(utc_day, "postgresql")
def _utc_day_postgres(element: utc_day, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: Any, **kw: Any) -> str:
    # SQLite holds the naive UTC text (api/audit/models.py UTCDateTime).
    return f"strftime('%Y-%m-%d', {compiler.process(element.clauses, **kw)})"


def usage_statement(table: Table, query: UsageQuery) -> Select[Any]:
    """SELECT the group keys and the totals, one row per group, ordered by the keys."""
    c = table.c
    columns: dict[str, ColumnElement[Any]] = {
        "client": c.client,
        "model": c.model,
        "route": c.route_path,
        "day": utc_day(c.created_at),
    }
    keys = [columns[key].label(key) for key in query.group_by]
    totals = [
        func.count().label("requests"),
        func.count(case((c.status == "error", 1))).label("errors"),
        func.coalesce(func.sum(c.prompt_tokens), 0).label("prompt_tokens"),
        func.coalesce(func.sum(c.completion_tokens), 0).label("completion_tokens"),
        func.coalesce(func.sum(c.cost_usd), 0.0).label("cost_usd"),
        func.count(case((c.cost_usd.is_(None), 1))).label("cost_unknown_requests"),
    ]
    statement = select(*keys, *totals).select_from(table)
    if query.client is not None:
        statement = statement.where(c.client == query.client)
    if query.since is not None:
        statement = statement.where(c.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(c.created_at < query.until)
    if keys:
        statement = statement.group_by(*keys).order_by(*keys)
    return statement


def usage_groups(found: list[Any], group_by: tuple[str, ...]) -> list[dict[str, Any]]:
    """The statement's rows as JSON-ready groups (no group for no rows)."""
    groups = [{**{key: row[key] for key in group_by}, **_totals(row)} for row in found]
    return [group for group in groups if group["requests"]]


def total_of(groups: list[dict[str, Any]]) -> dict[str, Any]:
    """The totals over all groups (zeros for none)."""
    total = {name: sum(group[name] for group in groups) for name in TOTALS}
    total["cost_usd"] = float(total["cost_usd"])
    return total


def _totals(row: Any) -> dict[str, Any]:
    values = {name: int(row[name] or 0) for name in TOTALS}
    values["cost_usd"] = float(row["cost_usd"] or 0.0)
    return values
