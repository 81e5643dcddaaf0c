"""Settings: every variable read from the environment, misconfiguration fails at start-up."""

import pytest
from pydantic import ValidationError

from api.config import AuditSettings, Settings


def make(monkeypatch, **env):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


def test_defaults(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t")
    assert settings.llm_base_url == "http://localhost:4000"
    assert (settings.llm_connect_timeout, settings.llm_read_timeout, settings.llm_write_timeout) == (5.0, 60.0, 10.0)
    assert settings.require_auth is True
    assert settings.default_routing_mode == "passthrough"
    assert settings.llm_max_retries == 0


def test_comma_separated_lists(monkeypatch):
    settings = make(
        monkeypatch,
        LLM_API_KEY="sk-x",
        API_TOKENS=" a, b ,,c ",
        CORS_ORIGINS="http://localhost:8080",
        VIRTUAL_MODEL_BASES="gpt-4o",
    )
    assert settings.api_tokens == ["a", "b", "c"]
    assert settings.cors_origins == ["http://localhost:8080"]
    assert settings.virtual_model_bases == ["gpt-4o"]


def test_auth_on_without_tokens_fails_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("API_TOKENS", raising=False)
    with pytest.raises(ValidationError, match="API_TOKENS"):
        make(monkeypatch, LLM_API_KEY="sk-x", REQUIRE_AUTH="true")


def test_auth_off_needs_no_tokens(monkeypatch):
    monkeypatch.delenv("API_TOKENS", raising=False)
    assert make(monkeypatch, LLM_API_KEY="sk-x", REQUIRE_AUTH="false").require_auth is False


def test_missing_upstream_key_fails_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    with pytest.raises(ValidationError, match="LLM_API_KEY"):
        make(monkeypatch, API_TOKENS="t")


@pytest.mark.parametrize("mode", ["Reasoning", " auto ", "ORCHESTRATION"])
def test_routing_mode_is_normalised(monkeypatch, mode):
    assert (
        make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", DEFAULT_ROUTING_MODE=mode).default_routing_mode
        == mode.strip().lower()
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DEFAULT_ROUTING_MODE", "fastest"),
        ("LLM_READ_TIMEOUT", "0"),
        ("MAX_REQUEST_BYTES", "10"),
        ("LLM_HTTP_TRANSPORT", "curl"),
        ("AUDIT_QUEUE_SIZE", "0"),
        ("AUDIT_BATCH_SIZE", "0"),
        ("AUDIT_BATCH_SIZE", "5000"),
        ("AUDIT_FLUSH_INTERVAL_SECONDS", "0"),
        ("AUDIT_SHUTDOWN_DRAIN_SECONDS", "-1"),
        ("AUDIT_MIGRATE_ON_START", "maybe"),
        ("DATABASE_URL", "mysql://root@localhost/audit"),
        ("DATABASE_URL", "postgresql+psycopg2://localhost/audit"),
        ("DATABASE_URL", "sqlite+aiosqlite://"),
        ("DATABASE_URL", "not a url"),
        ("ORCHESTRATION_MAX_TASKS", "0"),
        ("ORCHESTRATION_MAX_PARALLEL", "0"),
        ("ORCHESTRATION_TASK_TIMEOUT_SECONDS", "0"),
        ("ORCHESTRATION_ENABLED", "maybe"),
    ],
)
def test_bad_values_fail_at_start_up(monkeypatch, key, value):
    with pytest.raises(ValidationError, match=key.lower()):
        make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", **{key: value})


def test_api_key_is_never_printed(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-very-secret", API_TOKENS="t")
    assert "sk-very-secret" not in repr(settings)


def test_tokens_are_never_printed(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="tok-secret-1")
    assert "tok-secret-1" not in repr(settings)


def test_tracing_is_off_without_an_endpoint_and_phoenix_wins_over_otel(monkeypatch):
    for name in ("PHOENIX_COLLECTOR_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    settings = make(monkeypatch, LLM_API_KEY="sk-x", REQUIRE_AUTH="false")
    assert settings.tracing_endpoint is None
    assert settings.trace_include_content is True
    assert settings.log_prompts is False
    assert settings.metrics_require_auth is False
    settings = make(monkeypatch, PHOENIX_COLLECTOR_ENDPOINT=" ", OTEL_EXPORTER_OTLP_ENDPOINT="http://otel:4318")
    assert settings.tracing_endpoint == "http://otel:4318"
    settings = make(monkeypatch, PHOENIX_COLLECTOR_ENDPOINT="http://phoenix:6006")
    assert settings.tracing_endpoint == "http://phoenix:6006"


def test_a_tracing_endpoint_must_be_http(monkeypatch):
    with pytest.raises(ValidationError, match="not an http"):
        make(monkeypatch, LLM_API_KEY="sk-x", REQUIRE_AUTH="false", PHOENIX_COLLECTOR_ENDPOINT="grpc://phoenix:4317")


def test_metrics_auth_needs_auth_on(monkeypatch):
    with pytest.raises(ValidationError, match="METRICS_REQUIRE_AUTH"):
        make(monkeypatch, LLM_API_KEY="sk-x", REQUIRE_AUTH="false", METRICS_REQUIRE_AUTH="true")
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", REQUIRE_AUTH="true", METRICS_REQUIRE_AUTH="true")
    assert settings.metrics_require_auth is True


def test_audit_defaults(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t")
    assert settings.database_url.get_secret_value() == "sqlite+aiosqlite:///data/audit.db"
    assert settings.audit_migrate_on_start is True
    assert str(settings.audit_journal_dir) == "data/audit-journal"
    assert settings.audit_journal_max_bytes == 256 * 1024 * 1024
    assert (settings.audit_queue_size, settings.audit_batch_size) == (10_000, 200)
    assert (settings.audit_flush_interval_seconds, settings.audit_shutdown_drain_seconds) == (0.5, 5.0)


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://audit:pw@db:5432/audit", "postgresql+asyncpg://audit:pw@db:5432/audit"),
        ("postgres://audit@db/audit", "postgresql+asyncpg://audit@db/audit"),
        ("postgresql+asyncpg://db/audit", "postgresql+asyncpg://db/audit"),
        ("sqlite:///var/audit.db", "sqlite+aiosqlite:///var/audit.db"),
        ("sqlite:////abs/audit.db", "sqlite+aiosqlite:////abs/audit.db"),
    ],
)
def test_database_url_gets_its_async_driver(monkeypatch, given, used):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", DATABASE_URL=given)
    assert settings.database_url.get_secret_value() == used


def test_database_password_is_never_printed(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", DATABASE_URL="postgresql://u:hunter2@db/a")
    assert "hunter2" not in repr(settings)


def test_migrations_need_only_the_audit_settings(monkeypatch):
    """`make migrate` runs where the gateway's upstream key and tokens are not set."""
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    monkeypatch.delenv("API_TOKENS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/audit")
    assert AuditSettings(_env_file=None).database_url.get_secret_value() == "postgresql+asyncpg://db/audit"


def test_orchestration_is_off_by_default_and_its_agents_file_optional(monkeypatch):
    settings = make(monkeypatch, LLM_API_KEY="sk-x", API_TOKENS="t", ORCHESTRATION_AGENTS_CONFIG="")
    assert settings.orchestration_enabled is False
    assert settings.orchestration_agents_config is None  # compose passes it blank
    assert (settings.orchestration_max_tasks, settings.orchestration_max_parallel) == (8, 4)
    assert settings.orchestrate_model_prefix == "orchestrate/"
