"""Each row names its client and its cost in USD (contract section 10).

Revision ID: 0004_client_and_cost
Revises: 0003_client_request_id
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_client_and_cost"
down_revision: str | Sequence[str] | None = "0003_client_request_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_audit_log_client_created_at"


def upgrade() -> None:
    # Nullable, no default: older rows keep NULL (no client known, cost unknown), and the
    # adds are instant on Postgres.
    op.add_column("audit_log", sa.Column("client", sa.String(64), nullable=True))
    op.add_column("audit_log", sa.Column("cost_usd", sa.Double(), nullable=True))
    # Scoped audit reads, `GET /v1/usage` of one client and the budget's period-to-date sum
    # all filter on the client and a time range.
    op.create_index(INDEX, "audit_log", ["client", "created_at", "id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="audit_log")
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        batch.drop_column("cost_usd")
        batch.drop_column("client")
