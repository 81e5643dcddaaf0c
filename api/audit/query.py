"""The audit listing's query as a value, and its opaque cursor (pure, no I/O)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from api.errors import InvalidRequestError

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the previous page ended: the (created_at, id) of its last row."""

    created_at: datetime
    id: int


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of `GET /v1/audit`; every one is optional."""

    route: str | None = None
    status: str | None = None
    model: str | None = None
    client_request_id: str | None = None
    client: str | None = None  # the reader's own name unless it may read every client's rows
    since: datetime | None = None
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None


def encode_cursor(cursor: Cursor) -> str:
    """An opaque, URL-safe token for the next page."""
    raw = orjson.dumps([cursor.created_at.astimezone(UTC).isoformat(), cursor.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The cursor a previous page returned; a 400 naming `cursor` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, row_id = orjson.loads(raw)
        cursor = Cursor(datetime.fromisoformat(created_at), int(row_id))
        if cursor.created_at.tzinfo is None:
            raise ValueError("naive timestamp")
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError):
        raise InvalidRequestError(
            "Invalid value for 'cursor': pass the next_cursor of a previous page unchanged.",
            code="invalid_value",
            param="cursor",
        ) from None
    return cursor
