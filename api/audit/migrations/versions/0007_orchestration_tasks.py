"""The number of tasks in the orchestration's plan (contract section 12).

Revision ID: 0007_orchestration_tasks
Revises: 0006_route_policy
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_orchestration_tasks"
down_revision: str | Sequence[str] | None = "0006_route_policy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: only orchestration requests have tasks, and older rows knew of none.
    op.add_column("audit_log", sa.Column("orchestration_tasks", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        batch.drop_column("orchestration_tasks")
