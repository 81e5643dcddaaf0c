"""Request ids are the gateway's own: a client that reuses its id cannot merge audit rows.

Before wave 2 a sane `X-Request-Id` from the client became the request's id, and since rows
are idempotent by `request_id`, five requests sent with one id left one row: four requests
vanished from the trail. Now every answer's `X-Request-Id` is made by the gateway, and the
client's id is kept beside it as `client_request_id`. Real gateway, real Postgres.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TOKEN
from tests.support.load import run_load
from tests.support.waiting import until_equal

REQUESTS = 5


@pytest.mark.parametrize("header", ["X-Client-Request-Id", "X-Request-Id"])
async def test_five_requests_with_one_client_id_leave_five_rows_with_five_ids(postgres_db, launch_gateway, header):
    gateway = launch_gateway(database_url=postgres_db.url, audit_flush_interval_seconds=0.05)
    client_id = f"reused-{header.lower()}"
    result = await run_load(
        gateway.base_url + "/chat/completions",
        lambda n: {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"request {n}"}]},
        requests=REQUESTS,
        concurrency=REQUESTS,  # all at once: the old id scheme would race them onto one row
        headers={"Authorization": f"Bearer {TOKEN}", header: client_id},
    )
    await until_equal(postgres_db.count, REQUESTS)
    rows = await postgres_db.rows()
    answered_ids = set(result.request_ids)
    row_ids = {row["request_id"] for row in rows}
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        listed = (await http.get(gateway.base_url + "/audit", params={"client_request_id": client_id})).json()["data"]
    figures = (
        f"{header}: {client_id}: {result.summary()}; answers with distinct X-Request-Id {len(answered_ids)}, "
        f"rows {len(rows)}, distinct request_id in rows {len(row_ids)}, "
        f"rows with that client_request_id {sum(row['client_request_id'] == client_id for row in rows)}, "
        f"listed by ?client_request_id= {len(listed)}"
    )
    print(figures)
    assert result.complete == REQUESTS, figures
    assert len(answered_ids) == REQUESTS, figures
    assert client_id not in answered_ids, figures
    assert len(rows) == REQUESTS, figures
    assert row_ids == answered_ids, figures  # each answer's id names its own row
    assert all(row["client_request_id"] == client_id for row in rows), figures
    assert {row["request_id"] for row in listed} == answered_ids, figures
    for request_id in answered_ids:
        line = gateway.access_line(request_id)
        assert line["client_request_id"] == client_id, line
