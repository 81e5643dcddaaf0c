"""`GET /v1/audit/{request_id}` and `GET /v1/audit`: read the audit trail (contract section 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from api.audit.query import DEFAULT_LIMIT, MAX_LIMIT, AuditQuery, decode_cursor, encode_cursor
from api.clients.scopes import AUDIT_ALL
from api.dependencies import CurrentClient, Services
from api.errors import NotFoundError
from api.request_record import Outcome
from api.routing.decision import RoutePath

router = APIRouter()


@router.get("/v1/audit/{request_id}", summary="The audit row of one chat completion")
async def get_audit_row(request_id: str, services: Services, client: CurrentClient) -> Response:
    # Another client's row is a 404 like a missing one, so ids cannot be probed.
    row = await services.audit_store.get(request_id, client=client.rows_of(AUDIT_ALL))
    if row is None:
        raise NotFoundError(
            f"No audit row for request '{request_id}'. Rows are written shortly after the answer; "
            "only /v1/chat/completions requests have one.",
            param="request_id",
        )
    return Response(orjson.dumps(row), media_type="application/json")


@router.get("/v1/audit", summary="Recent audit rows, newest first, with filters and a cursor")
async def list_audit_rows(
    services: Services,
    client: CurrentClient,
    route: Annotated[RoutePath | None, Query(description="the path taken")] = None,
    status: Annotated[Outcome | None, Query(description="ok, error or cancelled")] = None,
    model: Annotated[str | None, Query(description="the upstream model")] = None,
    client_request_id: Annotated[str | None, Query(description="the caller's own X-Client-Request-Id")] = None,
    client_name: Annotated[
        str | None, Query(alias="client", description="rows of this client (audit:all; audit:own sees only its own)")
    ] = None,
    since: Annotated[datetime | None, Query(description="ISO-8601; rows created at or after it (UTC if no offset)")] = (
        None
    ),
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Response:
    after = decode_cursor(cursor) if cursor else None
    query = AuditQuery(
        route=route,
        status=status,
        model=model,
        client_request_id=client_request_id,
        client=client.rows_of(AUDIT_ALL) or client_name,
        since=since,
        limit=limit,
        after=after,
    )
    rows, after = await services.audit_store.page(query)
    page = {"object": "list", "data": rows, "next_cursor": encode_cursor(after) if after else None}
    return Response(orjson.dumps(page), media_type="application/json")
