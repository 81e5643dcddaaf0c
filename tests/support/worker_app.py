"""`uvicorn --factory tests.support.worker_app:create_app --workers N`: the gateway, one spill file per worker.

Every worker reads the same environment, and one spill file may have only one owner (it is
locked), so this factory gives each worker process its own, named by its pid.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from api import main
from api.config import Settings


def create_app() -> FastAPI:
    return main.create_app(Settings(audit_spill_path=Path(f"data/audit-spill-{os.getpid()}.jsonl")))
