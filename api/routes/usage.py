"""`GET /v1/usage`: requests, errors, tokens and cost from the audit store (contract section 10).

A client with `usage:all` sees every client's rows; one with only `usage:own` sees its own
(the auth middleware already refused a client with neither).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from api.audit.usage import UsageQuery, parse_group_by, total_of, usage_range
from api.clients.scopes import USAGE_ALL
from api.dependencies import CurrentClient, Services

router = APIRouter()


@router.get("/v1/usage", summary="Requests, errors, tokens and cost in USD, grouped, from the audit trail")
async def get_usage(
    services: Services,
    client: CurrentClient,
    since: Annotated[datetime | None, Query(description="ISO-8601; rows created at or after it (UTC if no offset)")] = (
        None
    ),
    until: Annotated[datetime | None, Query(description="ISO-8601; rows created before it (UTC if no offset)")] = None,
    group_by: Annotated[str | None, Query(description="comma-separated: client, model, route, day (UTC)")] = None,
) -> Response:
    since, until = usage_range(since, until)
    query = UsageQuery(
        since=since,
        until=until,
        group_by=parse_group_by(group_by),
        client=client.rows_of(USAGE_ALL),
    )
    groups = await services.audit_store.usage(query)
    body = {
        "object": "usage",
        "since": since,
        "until": until,
        "group_by": list(query.group_by),
        "data": groups,
        "total": total_of(groups),
    }
    return Response(orjson.dumps(body), media_type="application/json")
