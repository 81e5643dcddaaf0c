"""Alembic environment: runs on the connection `api/audit/migrate.py` hands over.

The connection comes from the async engine (via `run_sync`), so the same code serves the
gateway's start-up and `make migrate`; there is no offline (`--sql`) mode.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from api.audit.models import Base

# Any constant works: every process migrating the same database takes the same lock.
MIGRATION_LOCK_KEY = 0x41554454  # "AUDT"

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run the audit migrations with `make migrate` (python -m api.audit.migrate).")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        # Several gateway processes starting together: one migrates, the others wait and find it done.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    context.run_migrations()
