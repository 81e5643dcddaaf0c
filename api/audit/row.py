"""The audit row as a value: built from a finished `RequestRecord`, and as a JSON line.

Pure functions, no I/O: the writer enqueues what `audit_row` returns, the journal
holds what `row_to_json` writes, and a replay reads it back with `row_from_json`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from api.audit.models import AUDIT_FIELDS
from api.request_record import RequestRecord

Row = dict[str, Any]

AUDITED_ROUTE = ("POST", "/v1/chat/completions")


def is_audited(record: RequestRecord) -> bool:
    """Only chat completions get a row (health probes, model lists and audit reads do not)."""
    return (record.method, record.path) == AUDITED_ROUTE


def audit_row(record: RequestRecord) -> Row:
    """The contract's audit fields of a finished record (it holds no prompt text, only its hash)."""
    return {name: getattr(record, name) for name in AUDIT_FIELDS}


def row_to_json(row: Row) -> bytes:
    """One journal line (without the newline); `created_at` as ISO-8601 with its offset."""
    return orjson.dumps(row)


def row_from_json(line: bytes) -> Row:
    """A row read back from a journal line; `ValueError` when the line is not one."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict) or not data.get("request_id") or not isinstance(data.get("created_at"), str):
        raise ValueError("not an audit row")
    row = {name: data.get(name) for name in AUDIT_FIELDS}
    row["created_at"] = datetime.fromisoformat(row["created_at"])
    return row
