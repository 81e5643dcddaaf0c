"""The model name as the client sent it (`reasoning/gpt-4o`), beside the model the upstream saw.

Revision ID: 0002_requested_model
Revises: 0001_audit_log
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_requested_model"
down_revision: str | Sequence[str] | None = "0001_audit_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: rows written before it keep NULL, and the add is instant on Postgres.
    op.add_column("audit_log", sa.Column("requested_model", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        batch.drop_column("requested_model")
