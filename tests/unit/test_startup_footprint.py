"""What a started gateway holds: the libraries it loaded, and what the collector still walks.

redis-py (with `cryptography`, about 16 MB resident) is imported only when Redis is configured,
and Alembic (about 17 MB) only by a gateway that migrates: a gateway started as
deploy/kubernetes starts it (AUDIT_MIGRATE_ON_START=false) carries neither
(api/shared_state.py, api/audit/store.py). And what start-up built, the price table included,
is frozen out of the collector's generations (api/main.py): a full collection over it took
about 100 ms, a pause in the middle of requests. A fresh interpreter per case: this test
process has imported and frozen all of it long before.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from api.audit import migrate

_PROBE = """
import gc, json, sys
from fastapi.testclient import TestClient
from genai_prices.data_snapshot import get_snapshot
from api.main import create_app
with TestClient(create_app()) as client:
    health = client.get("/health/ready").json()
    walked = {id(o) for o in gc.get_objects()}  # the permanent generation is not listed
    providers = get_snapshot().providers
print(json.dumps({
    "loaded": sorted(m for m in ("redis", "alembic") if m in sys.modules),
    "health": health,
    "price_table_walked": any(id(p) in walked for p in providers),
}))
"""


def _started_gateway(tmp_path: Path, **env: str) -> dict:
    servers = tmp_path / "mcp.yaml"
    servers.write_text("servers: []\n")
    environment = {
        **os.environ,
        "LLM_API_KEY": "unused",
        "REQUIRE_AUTH": "false",
        "MCP_SERVERS_CONFIG": str(servers),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "",
        "PHOENIX_COLLECTOR_ENDPOINT": "",
        **env,
    }
    environment.pop("REDIS_URL", None)
    environment.pop("RATE_LIMIT_STORAGE_URL", None)
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_gateway_started_without_redis_and_without_migrating_loads_neither(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    asyncio.run(migrate.on_database(database, migrate.upgrade))  # the init container's step
    result = _started_gateway(tmp_path, DATABASE_URL=database, AUDIT_MIGRATE_ON_START="false")
    assert result["loaded"] == []
    assert result["price_table_walked"] is False
    components = result["health"]["components"]
    assert components["audit"]["status"] == "ok"
    assert components["shared_state"]["detail"].startswith("in this process")


def test_a_gateway_that_migrates_loads_alembic_and_its_audit_store_is_ready(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'audit.db'}"
    result = _started_gateway(tmp_path, DATABASE_URL=database, AUDIT_MIGRATE_ON_START="true")
    assert result["loaded"] == ["alembic"]
    assert result["health"]["components"]["audit"]["status"] == "ok"
