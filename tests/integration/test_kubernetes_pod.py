"""The gateway's pod (deploy/kubernetes), run as the kubelet would run it, without a cluster.

/app is rebuilt from what the Dockerfile copies, with the ConfigMap's files over config/ (its
volume mount) and an empty data/ (the emptyDir). The init container's args run first, then the
gateway container's, each with exactly the environment the Deployment gives it: its literal
values, and for each Secret reference a value of the suite's own (LiteLLM's master key, a fresh
Postgres database, the machine's Redis). Only LLM_BASE_URL, which names a Service, points at the
suite's LiteLLM instead. Then the probes ask what the kubelet asks, a client of the ConfigMap's
clients.yaml is served with its token from the Secret, and SIGTERM ends the process within the
grace period with its audit row written.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conftest import MASTER_KEY
from tests.support.databases import TestDatabase
from tests.support.deployment_files import (
    IMAGE_ENV,
    container_env,
    image_root_in,
    kubernetes_object,
    loopback,
    on_port,
)
from tests.support.processes import ServerProcess, free_port

DEPLOYMENT = kubernetes_object("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
[GATEWAY] = POD["containers"]
[MIGRATE] = POD["initContainers"]
CONFIG_MAP = kubernetes_object("ConfigMap")
VENV_BIN = Path(sys.executable).parent


def pod_root(folder: Path) -> Path:
    """/app as the pod sees it: the image's files, the ConfigMap over config/, an empty data/."""
    folder.mkdir()
    root = image_root_in(folder)
    shutil.rmtree(root / "config")
    (root / "config").mkdir()
    for key, text in CONFIG_MAP["data"].items():
        (root / "config" / key).write_text(text)
    return root


def pod_env(container: dict[str, Any], secret: dict[str, str], root: Path, **overrides: str) -> dict[str, str | None]:
    """The container's environment as the kubelet builds it; nothing inherited from this process."""
    env: dict[str, str | None] = {name: None for name in os.environ}
    env.update(PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", HOME=str(root), **IMAGE_ENV)
    for name, var in container_env(container).items():
        if var.value is not None:
            env[name] = var.value
        elif var.secret_key in secret:
            env[name] = secret[var.secret_key]
        else:
            assert var.optional, f"the Secret lacks {var.secret_key}: the pod would not start"
    env.update(overrides)
    return env


async def test_the_pod_migrates_then_serves_its_probes_and_clients_and_stops_within_its_grace(
    postgres_db: TestDatabase, litellm: str, logs_dir: Path, tmp_path: Path
):
    root = pod_root(tmp_path / "app")
    clients = yaml.safe_load(CONFIG_MAP["data"]["clients.yaml"])["clients"]
    [client] = [c for c in clients if "token_env" in c]
    secret = {  # API_TOKENS left out: the one optional key
        "LLM_API_KEY": MASTER_KEY,  # the suite's LiteLLM has no database: its master key
        "DATABASE_URL": postgres_db.url,
        "AUDIT_HASH_KEY": "0" * 64,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        client["token_env"]: "pod-test-client-token",
    }

    migrate = await asyncio.create_subprocess_exec(
        *MIGRATE["args"], cwd=root, env=_clean(pod_env(MIGRATE, secret, root)), stderr=subprocess.PIPE
    )
    _, errors = await asyncio.wait_for(migrate.communicate(), timeout=120)
    assert migrate.returncode == 0, errors.decode()[-2000:]
    assert await postgres_db.tables() == {"audit_log", "alembic_version"}

    port = free_port()
    gateway = ServerProcess(
        "k8s-reasoning-api",
        loopback(on_port(GATEWAY["args"], 8000, port)),
        port,
        logs_dir / "k8s-reasoning-api.log",
        env=pod_env(GATEWAY, secret, root, LLM_BASE_URL=litellm),  # instead of http://litellm:4000
        cwd=root,
    )
    startup = GATEWAY["startupProbe"]
    gateway.start(startup["httpGet"]["path"], timeout=startup["periodSeconds"] * startup["failureThreshold"])
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
            for kind in ("livenessProbe", "readinessProbe"):
                probe = GATEWAY[kind]
                answer = await http.get(probe["httpGet"]["path"], timeout=probe["timeoutSeconds"])
                assert 200 <= answer.status_code < 400, f"{kind}: {answer.status_code} {answer.text}"
            body = {"model": "fake-model", "messages": [{"role": "user", "content": "hi"}]}
            assert (await http.post("/v1/chat/completions", json=body)).status_code == 401
            token = secret[client["token_env"]]
            served = await http.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {token}"})
            assert served.status_code == 200, served.text
    finally:
        started = time.monotonic()
        gateway.stop()
        took = time.monotonic() - started
    assert gateway.process is not None
    assert gateway.process.returncode == 0, gateway.logs()[-2000:]
    pre_stop = GATEWAY["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert took < POD["terminationGracePeriodSeconds"] - pre_stop
    rows = {row["request_id"]: row for row in await postgres_db.rows()}  # the 401 has its row too
    assert rows[served.headers["x-request-id"]]["client"] == client["name"]
    assert list((root / "data" / "audit-journal").glob("journal-*.lock")), "the journal is on the data volume"


def _clean(env: dict[str, str | None]) -> dict[str, str]:
    return {name: value for name, value in env.items() if value is not None}
