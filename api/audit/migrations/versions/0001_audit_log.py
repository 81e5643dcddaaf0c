"""The audit table of contract section 7, indexed for lookups by request id and listings by time.

Revision ID: 0001_audit_log
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_audit_log"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("route_path", sa.String(), nullable=True),
        sa.Column("route_reason", sa.String(), nullable=True),
        sa.Column("model", sa.String(), nullable=True),
        sa.Column("stream", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error_type", sa.String(), nullable=True),
        sa.Column("latency_ms", sa.Double(), nullable=True),
        sa.Column("ttft_ms", sa.Double(), nullable=True),
        sa.Column("upstream_ms", sa.Double(), nullable=True),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=True),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=True),
        sa.Column("reasoning_steps", sa.Integer(), nullable=True),
        sa.Column("tool_calls", sa.Integer(), nullable=True),
        sa.Column("prompt_sha256", sa.String(64), nullable=True),
        sa.Column("prompt_chars", sa.BigInteger(), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("trace_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("request_id", name="uq_audit_log_request_id"),
    )
    op.create_index("ix_audit_log_created_at", "audit_log", ["created_at", "id"])
    op.create_index("ix_audit_log_route_path_created_at", "audit_log", ["route_path", "created_at", "id"])
    op.create_index("ix_audit_log_status_created_at", "audit_log", ["status", "created_at", "id"])
    op.create_index("ix_audit_log_model_created_at", "audit_log", ["model", "created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_model_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_status_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_route_path_created_at", table_name="audit_log")
    op.drop_index("ix_audit_log_created_at", table_name="audit_log")
    op.drop_table("audit_log")
