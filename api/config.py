"""Settings: the single place the gateway reads its environment (and `.env`).

Every field is read once at start-up into a `Settings` value that `create_app` passes
down; no other module looks at `os.environ` (`environment()` serves the clients file's
`token_env` references). Misconfiguration (auth on without tokens,
an unknown routing mode, a negative timeout) fails here, at start-up, with a message
that names the variable to fix.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

RoutingMode = Literal["passthrough", "reasoning", "orchestration", "auto"]
CommaList = Annotated[list[str], NoDecode]

DEFAULT_CLIENTS_CONFIG = Path("config/clients.yaml")
DEFAULT_ROUTING_POLICY_CONFIG = Path("config/routing_policy.yaml")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///data/audit.db"
# The async driver each supported database is reached through.
_ASYNC_DRIVERS = {"postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg", "sqlite": "sqlite+aiosqlite"}
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


class AuditSettings(BaseSettings):
    """The audit trail's settings: all `make migrate` needs, without the gateway's other secrets."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: SecretStr = Field(
        SecretStr(DEFAULT_DATABASE_URL),
        description="audit store: postgresql://... (asyncpg) or sqlite+aiosqlite:///path (relative to the cwd)",
    )
    audit_migrate_on_start: bool = Field(True, description="run the Alembic migrations when the gateway starts")
    audit_queue_size: int = Field(
        10_000, ge=1, description="rows held in memory for the next batches; beyond that only the journal holds them"
    )
    # 22 columns a row: 1000 rows stay under both Postgres' and SQLite's bound-parameter limits.
    audit_batch_size: int = Field(200, ge=1, le=1000, description="rows per INSERT")
    audit_flush_interval_seconds: float = Field(0.5, gt=0, description="longest a row waits for its batch to fill")
    audit_journal_dir: Path = Field(
        Path("data/audit-journal"),
        description="folder of the per-process audit journals (every row, on disk before its answer completes); "
        "one folder serves every worker and replica on the host",
    )
    audit_journal_max_bytes: int = Field(
        256 * 1024 * 1024,
        ge=0,
        description="cap on one process's journal files; beyond it rows live in memory only; 0 turns the journal off",
    )
    audit_shutdown_drain_seconds: float = Field(
        5.0, ge=0, description="at shutdown, how long to keep writing queued rows (the rest stays in the journal)"
    )

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: SecretStr) -> SecretStr:
        return SecretStr(normalise_database_url(value.get_secret_value()))


def normalise_database_url(url: str) -> str:
    """`postgresql://` → `postgresql+asyncpg://`, `sqlite://` → `sqlite+aiosqlite://`; others refused."""
    try:
        parsed = make_url(url.strip())
    except ArgumentError as exc:
        raise ValueError(f"DATABASE_URL is not a database URL: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    wanted = _ASYNC_DRIVERS.get(backend)
    if wanted is None or (driver and f"{backend}+{driver}" != wanted):
        raise ValueError(
            "DATABASE_URL must be postgresql://user:password@host/db (asyncpg) or "
            f"sqlite+aiosqlite:///path/to/file.db, not {parsed.drivername}://"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ValueError("DATABASE_URL: an in-memory SQLite database would lose the audit trail; name a file")
    return parsed.set(drivername=wanted).render_as_string(hide_password=False)


class Settings(AuditSettings):
    """Gateway configuration; field `foo_bar` is read from env var `FOO_BAR`."""

    # --- upstream: the LiteLLM proxy, reached through one shared AsyncOpenAI client
    llm_base_url: str = Field("http://localhost:4000", description="LiteLLM proxy (or any OpenAI-compatible) URL")
    llm_api_key: SecretStr = Field(SecretStr(""), description="LiteLLM virtual key (or master key without a DB)")
    llm_connect_timeout: float = Field(5.0, gt=0)
    llm_read_timeout: float = Field(60.0, gt=0, description="max wait for each stream chunk (and response headers)")
    llm_total_timeout_seconds: float = Field(
        600.0,
        gt=0,
        description="max time for a whole non-streamed answer (it arrives in one piece, after the model "
        "generated all of it, so the per-chunk read timeout does not apply to it)",
    )
    llm_write_timeout: float = Field(10.0, gt=0)
    llm_pool_timeout: float = Field(
        5.0, gt=0, description="max wait for a free pooled connection; then the call is 503 `overloaded`"
    )
    llm_max_connections: int = Field(200, ge=1, description="upstream calls in flight at once (streams included)")
    llm_max_keepalive_connections: int = Field(50, ge=0)
    llm_keepalive_expiry: float = Field(
        4.0,
        gt=0,
        description="seconds an idle pooled connection is reused; keep it below the upstream's keep-alive "
        "(LiteLLM's uvicorn closes idle connections after 5 s), or a request can land on a closing connection",
    )
    llm_max_retries: int = Field(0, ge=0, description="SDK retries; LiteLLM already retries, so 0 by default")
    llm_cache_deterministic: bool = Field(
        True,
        description="ask LiteLLM's response cache (when it has one) for passthrough answers that are the same "
        "every time: temperature 0, one choice, no tools",
    )
    llm_http_transport: Literal["aiohttp", "httpx"] = Field(
        "aiohttp", description="HTTP transport of the upstream client; aiohttp holds up better under load"
    )

    # --- our own clients: who they are, what they may do, how much (contract section 10)
    api_tokens: CommaList = Field(
        default_factory=list,
        repr=False,
        description="bearer tokens, comma-separated; each is a client `token-<hash>` with default scopes, no limits",
    )
    require_auth: bool = True
    clients_config: Path | None = Field(
        None,
        description="YAML file of named clients with scopes, allow-lists and limits "
        "(default: config/clients.yaml when it exists)",
    )
    redis_url: str | None = Field(
        None,
        description="the Redis every replica shares (redis://host:6379/0): limit counters and routing decisions; "
        "unset, each process keeps its own",
    )
    rate_limit_storage_url: str | None = Field(
        None,
        description="where limit counters live: memory:// (this process) or redis://... (default: REDIS_URL, "
        "else memory://)",
    )
    rate_limit_namespace: str = Field(
        "reasoning-api",
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="prefix of every Redis key the gateway writes, so deployments can share one Redis",
    )
    audit_hash_key: SecretStr | None = Field(
        None,
        repr=False,
        description="key of the audit row's prompt hash (HMAC-SHA256), so a guessed prompt cannot be confirmed "
        "from the table; required in production",
    )

    # --- routing
    default_routing_mode: RoutingMode = "passthrough"
    reasoning_model_prefix: str = Field("reasoning/", min_length=1)
    auto_model_prefix: str = Field("auto/", min_length=1)
    virtual_model_bases: CommaList = Field(
        default_factory=list,
        description="upstream models that get reasoning/ and auto/ twins in /v1/models; empty means all",
    )

    # --- auto routing: the classifier (contract section 2)
    auto_routing_targets: CommaList = Field(
        default_factory=lambda: ["passthrough", "orchestration"],
        description="paths the classifier may choose among (passthrough, reasoning, orchestration)",
    )
    routing_classifier_model: str = Field("gpt-4o-mini", min_length=1)
    routing_classifier_timeout: float = Field(5.0, gt=0, description="seconds before auto routing falls back")
    routing_cache_ttl_seconds: float = Field(600.0, ge=0, description="how long a classifier decision is reused")
    routing_policy_config: Path | None = Field(
        None,
        description="YAML rules that choose the model (sensitive terms, prompt size, cost, client) "
        "(default: config/routing_policy.yaml when it exists)",
    )
    routing_cache_size: int = Field(2048, ge=0, description="decisions kept in memory (0 disables the cache)")

    # --- reasoning path: the agent and its MCP tools (contract section 6)
    mcp_servers_config: str = Field("config/mcp_servers.yaml", description="YAML file listing the MCP servers")
    tool_timeout_seconds: float = Field(30.0, gt=0, description="each MCP tool call is abandoned after this")
    mcp_connect_timeout_seconds: float = Field(10.0, gt=0)
    mcp_refresh_interval_seconds: float = Field(60.0, gt=0, description="tool lists re-read (and health checked)")
    mcp_probe_interval_seconds: float = Field(
        2.0, gt=0, description="while tool calls are pending, how often their server is checked for life"
    )
    mcp_probe_timeout_seconds: float = Field(
        3.0,
        gt=0,
        description="a server that does not answer a probe within this is down and its pending calls fail at once",
    )
    max_reasoning_iterations: int = Field(20, ge=1)
    max_tools_per_step: int = Field(
        10, ge=1, description="tools one reasoning step may run; the rest are refused as failed tool results"
    )
    tool_result_max_chars: int = Field(
        4000,
        ge=1,
        description="a tool result (or error) is cut to this many characters for the model, the tool_result "
        "event (marked truncated) and the TOOL span",
    )
    reasoning_step_format: Literal["json_schema", "json_object"] = Field(
        "json_schema", description="how steps are requested: structured output, or JSON mode for upstreams without it"
    )

    # --- orchestration: plan, run tasks on agents, synthesise (contract section 12)
    orchestration_enabled: bool = Field(
        False, description="run the orchestrator; false keeps the 501 (orchestration_not_implemented)"
    )
    orchestrate_model_prefix: str = Field(
        "orchestrate/", min_length=1, description="model prefix that picks orchestration (when it is enabled)"
    )
    orchestration_max_tasks: int = Field(8, ge=1, description="a plan with more tasks is retried, then refused")
    orchestration_max_parallel: int = Field(4, ge=1, description="tasks of one request running at the same time")
    orchestration_task_timeout_seconds: float = Field(
        120.0, gt=0, description="each task is cancelled and reported failed after this"
    )
    orchestration_agents_config: Path | None = Field(
        Path("config/agents.yaml"), description="YAML file of the remote A2A agents (missing: none)"
    )
    orchestration_agents_refresh_seconds: float = Field(
        30.0, gt=0, description="remote agents' cards re-fetched (and health checked) this often"
    )

    # --- HTTP edge
    max_request_bytes: int = Field(20 * 1024 * 1024, ge=1024, description="larger bodies get 413")
    cors_origins: CommaList = Field(default_factory=list, description="browser origins allowed by CORS")
    sse_heartbeat_seconds: float = Field(
        15.0, ge=0, description="a stream quiet this long gets a `: keep-alive` comment line (0: never)"
    )

    # --- lifecycle (contract section 13)
    shutdown_drain_seconds: float = Field(
        20.0,
        ge=0,
        description="after SIGTERM, how long requests in flight get to finish before open streams end "
        "with a `draining` error event; the stop grace period must be longer (README, Shutdown)",
    )

    # --- logging
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    log_prompts: bool = Field(
        False, description="debug only: log the messages of every LLM call (prompts are never logged otherwise)"
    )

    # --- tracing (OpenTelemetry → Phoenix over OTLP/HTTP); off when neither endpoint is set
    phoenix_collector_endpoint: str | None = Field(
        None, description="Phoenix base URL (http://host:6006) or its OTLP/HTTP traces URL; turns tracing on"
    )
    otel_exporter_otlp_endpoint: str | None = Field(
        None, description="any OTLP/HTTP collector's base URL, used when PHOENIX_COLLECTOR_ENDPOINT is unset"
    )
    phoenix_project_name: str = Field("default", min_length=1, description="Phoenix project the spans land in")
    phoenix_api_key: SecretStr | None = Field(None, description="sent as a bearer token to a Phoenix with auth")
    trace_include_content: bool = Field(
        True, description="put prompts and answers on spans (input.value / output.value); false for privacy"
    )
    trace_export_process: bool = Field(
        True,
        description="encode and send spans in a child process, off the gateway's GIL; false keeps the "
        "exporter on a thread of the gateway's process",
    )
    trace_max_attributes: int = Field(128, ge=1, description="attributes one span keeps (OpenTelemetry SpanLimits)")
    trace_max_attribute_chars: int = Field(
        32_768,
        ge=1,
        description="longest attribute value a span keeps (prompts, answers, tool output); longer ones are cut",
    )

    # --- metrics
    metrics_require_auth: bool = Field(False, description="require the bearer token on GET /metrics")
    prometheus_multiproc_dir: Path | None = Field(
        None,
        description="with `uvicorn --workers N`: an empty directory shared by the workers, so every scrape "
        "counts all of them (Prometheus multiprocess mode); unset: metrics are per process",
    )

    @field_validator("api_tokens", "virtual_model_bases", "cors_origins", "auto_routing_targets", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("default_routing_mode", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("llm_api_key")
    @classmethod
    def _key_required(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError(
                "LLM_API_KEY is empty: set it to a LiteLLM virtual key (`make litellm_setup`), "
                "or to LITELLM_MASTER_KEY when the proxy runs without a database"
            )
        return value

    @field_validator("auto_routing_targets")
    @classmethod
    def _known_targets(cls, value: list[str]) -> list[str]:
        targets = [target.lower() for target in value]
        unknown = sorted(set(targets) - {"passthrough", "reasoning", "orchestration"})
        if unknown or not targets:
            raise ValueError(
                f"AUTO_ROUTING_TARGETS must list one or more of passthrough, reasoning, orchestration (got {value})"
            )
        return targets

    @field_validator("rate_limit_storage_url")
    @classmethod
    def _limit_storage(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if not value:
            return None
        if not value.startswith(("memory://", *REDIS_SCHEMES)):
            raise ValueError(f"RATE_LIMIT_STORAGE_URL must be memory:// or redis://host:port/db, not {value!r}")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        value = (value or "").strip()
        if value and not value.startswith(REDIS_SCHEMES):
            raise ValueError(f"REDIS_URL must be redis://host:port/db (or rediss://), not {value!r}")
        return value or None

    @model_validator(mode="after")
    def _one_redis(self) -> Settings:
        limits = self.rate_limit_storage_url
        if self.redis_url and limits and limits.startswith(REDIS_SCHEMES) and limits != self.redis_url:
            raise ValueError(
                "REDIS_URL and RATE_LIMIT_STORAGE_URL name different Redis servers: the replicas share one; "
                "set only REDIS_URL"
            )
        return self

    @property
    def shared_redis_url(self) -> str | None:
        """The one Redis the replicas share: REDIS_URL, or a Redis RATE_LIMIT_STORAGE_URL."""
        limits = self.rate_limit_storage_url
        return self.redis_url or (limits if limits and limits.startswith(REDIS_SCHEMES) else None)

    @property
    def limits_shared(self) -> bool:
        """The limit counters live in the shared Redis (not with RATE_LIMIT_STORAGE_URL=memory://)."""
        return self.shared_redis_url is not None and self.rate_limit_storage_url != "memory://"

    @field_validator(
        "phoenix_api_key",
        "prometheus_multiproc_dir",
        "clients_config",
        "routing_policy_config",
        "orchestration_agents_config",
        "audit_hash_key",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # Compose passes `${PHOENIX_API_KEY:-}`: an empty variable means no key, not an empty one.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("phoenix_collector_endpoint", "otel_exporter_otlp_endpoint", mode="before")
    @classmethod
    def _endpoint(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL: tracing exports OTLP over HTTP (Phoenix: :6006)")
        return value

    @property
    def tracing_endpoint(self) -> str | None:
        """Where spans go (PHOENIX_COLLECTOR_ENDPOINT wins); None means tracing is off."""
        return self.phoenix_collector_endpoint or self.otel_exporter_otlp_endpoint

    @model_validator(mode="after")
    def _metrics_auth_needs_auth(self) -> Settings:
        if self.metrics_require_auth and not self.require_auth:
            raise ValueError(
                "METRICS_REQUIRE_AUTH is true but REQUIRE_AUTH is false, so no token would be checked: "
                "set REQUIRE_AUTH=true (with API_TOKENS) or METRICS_REQUIRE_AUTH=false"
            )
        return self

    @model_validator(mode="after")
    def _auth_needs_tokens(self) -> Settings:
        if self.require_auth and not self.api_tokens and self.clients_path is None:
            raise ValueError(
                "REQUIRE_AUTH is true but there are no clients: set API_TOKENS to one or more comma-separated "
                "bearer tokens, or CLIENTS_CONFIG to a clients file (config/clients.example.yaml), "
                "or set REQUIRE_AUTH=false for local development"
            )
        return self

    @property
    def clients_path(self) -> Path | None:
        """The clients file to read: CLIENTS_CONFIG, else config/clients.yaml when it exists."""
        if self.clients_config is not None:
            return self.clients_config
        return DEFAULT_CLIENTS_CONFIG if DEFAULT_CLIENTS_CONFIG.exists() else None

    @property
    def routing_policy_path(self) -> Path | None:
        """The routing policy to apply: ROUTING_POLICY_CONFIG, else config/routing_policy.yaml when it exists."""
        if self.routing_policy_config is not None:
            return self.routing_policy_config
        return DEFAULT_ROUTING_POLICY_CONFIG if DEFAULT_ROUTING_POLICY_CONFIG.exists() else None


def environment() -> dict[str, str]:
    """The process environment over `.env`: where a client's `token_env` variable is looked up."""
    values = {key: value for key, value in dotenv_values(".env").items() if value is not None}
    return {**values, **os.environ}
