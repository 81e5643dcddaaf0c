"""What LiteLLM did for the request: the model that answered, retries, fallbacks, a cache hit (contract section 11).

Revision ID: 0005_upstream_outcome
Revises: 0004_client_and_cost
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_upstream_outcome"
down_revision: str | Sequence[str] | None = "0004_client_and_cost"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("upstream_model", "attempted_retries", "attempted_fallbacks", "cache_hit")


def upgrade() -> None:
    # Nullable, no default: older rows and upstreams other than LiteLLM say nothing here.
    op.add_column("audit_log", sa.Column("upstream_model", sa.String(), nullable=True))
    op.add_column("audit_log", sa.Column("attempted_retries", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("attempted_fallbacks", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("cache_hit", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:  # SQLite drops a column only by batch
        for column in reversed(COLUMNS):
            batch.drop_column(column)
