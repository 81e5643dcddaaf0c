"""The routing policy rule that decided the request's model, or refused it (api/policy).

Revision ID: 0006_route_policy
Revises: 0005_upstream_outcome
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_route_policy"
down_revision: str | Sequence[str] | None = "0005_upstream_outcome"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: most requests match no rule, and older rows knew of none.
    op.add_column("audit_log", sa.Column("route_policy", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        batch.drop_column("route_policy")
