"""The caller's own request id, beside the gateway's `request_id` (which clients no longer choose).

Revision ID: 0003_client_request_id
Revises: 0002_requested_model
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_client_request_id"
down_revision: str | Sequence[str] | None = "0002_requested_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_audit_log_client_request_id_created_at"


def upgrade() -> None:
    # Nullable, no default: older rows keep NULL, and the add is instant on Postgres.
    op.add_column("audit_log", sa.Column("client_request_id", sa.String(128), nullable=True))
    # `GET /v1/audit?client_request_id=` filters on it, newest first, like the other filters.
    op.create_index(INDEX, "audit_log", ["client_request_id", "created_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        batch.drop_column("client_request_id")
