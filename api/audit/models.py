"""The audit table (contract section 7) as a SQLAlchemy 2 declarative model.

The model is what the code queries; the schema itself comes from the Alembic
migrations in `migrations/` (a test checks that the two agree). Free-form strings are
unbounded (`VARCHAR` without a length) so no value a client sends can make a row fail
to insert and block the batch it is in.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, DateTime, Dialect, Index, Integer, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

TABLE_NAME = "audit_log"


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    Postgres keeps `timestamptz`; SQLite has no time zones and stores the naive UTC
    text, which still sorts and compares correctly because every value is UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # Named constraints, so migrations can drop or alter them on every engine.
    metadata = MetaData(naming_convention={"pk": "pk_%(table_name)s", "uq": "uq_%(table_name)s_%(column_0_name)s"})


class AuditRow(Base):
    """One `/v1/chat/completions` request: what happened, never what was said."""

    __tablename__ = TABLE_NAME
    __table_args__ = (
        UniqueConstraint("request_id"),
        # Listing is newest first with (created_at, id) as the keyset cursor; each filter
        # gets an index that serves the filter and the order together.
        Index("ix_audit_log_created_at", "created_at", "id"),
        Index("ix_audit_log_route_path_created_at", "route_path", "created_at", "id"),
        Index("ix_audit_log_status_created_at", "status", "created_at", "id"),
        Index("ix_audit_log_model_created_at", "model", "created_at", "id"),
        Index("ix_audit_log_client_request_id_created_at", "client_request_id", "created_at", "id"),
        Index("ix_audit_log_client_created_at", "client", "created_at", "id"),
    )

    # A surrogate key: the cursor's tie-breaker and a compact primary key; not part of the API.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    route_path: Mapped[str | None] = mapped_column(String())
    route_reason: Mapped[str | None] = mapped_column(String())
    model: Mapped[str | None] = mapped_column(String())
    stream: Mapped[bool | None]
    status: Mapped[str] = mapped_column(String(16))
    http_status: Mapped[int | None]
    error_type: Mapped[str | None] = mapped_column(String())
    latency_ms: Mapped[float | None]
    ttft_ms: Mapped[float | None]
    upstream_ms: Mapped[float | None]
    prompt_tokens: Mapped[int | None] = mapped_column(BigInteger())
    completion_tokens: Mapped[int | None] = mapped_column(BigInteger())
    reasoning_steps: Mapped[int | None]
    tool_calls: Mapped[int | None]
    prompt_sha256: Mapped[str | None] = mapped_column(String(64))
    prompt_chars: Mapped[int | None] = mapped_column(BigInteger())
    message_count: Mapped[int | None]
    client_id: Mapped[str | None] = mapped_column(String(64))
    session_id: Mapped[str | None] = mapped_column(String(128))
    trace_id: Mapped[str | None] = mapped_column(String(64))
    # The model name the client sent (`reasoning/gpt-4o`); `model` is what the upstream saw.
    # Last, as migration 0002 appended it: the row's field order is the table's.
    requested_model: Mapped[str | None] = mapped_column(String())
    # The caller's own id (`X-Client-Request-Id`, or `X-Request-Id` from older clients), a sane
    # token of at most 128 characters; `request_id` is always the gateway's (migration 0003).
    client_request_id: Mapped[str | None] = mapped_column(String(128))
    # The client's name (config/clients.yaml, or `token-<hash>` for an API_TOKENS token);
    # `client_id` stays the short token hash. The request's cost in USD summed over all its
    # upstream calls, NULL when a model's price is unknown (migration 0004).
    client: Mapped[str | None] = mapped_column(String(64))
    cost_usd: Mapped[float | None]
    # What LiteLLM did (its x-litellm-* headers): the model group that answered the last call,
    # retries and fallbacks summed over the calls, every call served from its cache (0005).
    upstream_model: Mapped[str | None] = mapped_column(String())
    attempted_retries: Mapped[int | None]
    attempted_fallbacks: Mapped[int | None]
    cache_hit: Mapped[bool | None]
    # The routing policy rule that chose the model or refused the request (0006); `model`
    # is then the policy's model and `requested_model` the client's.
    route_policy: Mapped[str | None] = mapped_column(String(64))
    # The tasks of the orchestration's plan, 0 when no valid plan was made; NULL on the other
    # paths (0007).
    orchestration_tasks: Mapped[int | None]


#: The columns of contract section 7 in its order, then `requested_model` (migration 0002),
#: `client_request_id` (0003), `client` and `cost_usd` (0004), the upstream outcome (0005),
#: `route_policy` (0006), `orchestration_tasks` (0007):
#: the row dict, the journal and the API use these.
AUDIT_FIELDS: tuple[str, ...] = tuple(c.name for c in AuditRow.__table__.columns if c.name != "id")
