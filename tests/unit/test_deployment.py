"""The deployment files keep their promises: compose, Dockerfile, env examples, README, Makefile.

No Docker engine runs here, so these tests read the files the way compose and Docker do.
tests/integration/test_deployment_processes.py runs the image's commands and health checks.
"""

from __future__ import annotations

import json
import re
import subprocess
from graphlib import CycleError, TopologicalSorter
from importlib import import_module
from importlib.resources import files
from typing import Any

import jsonschema
import pytest
import yaml

from api.config import Settings
from api.lifecycle.drain import CUT_GRACE_SECONDS
from api.mcp.config import load_mcp_config
from tests.support.deployment_files import (
    COMPOSE_DEV_FILE,
    COMPOSE_FILE,
    ENV_EXAMPLES,
    REPO,
    console_script_providers,
    copy_sources,
    dockerfile,
    dockerignore_patterns,
    env_file,
    health_command,
    image_files,
    image_source,
    interpolate,
    interpolations,
    is_dockerignored,
    load_yaml,
    markdown_section,
    markdown_tables,
    merge_compose,
    mounts,
    ports,
    shutdown_seconds,
    url_parts,
    urls_in,
)
from web_client.config import WebClientSettings

BASE = load_yaml(COMPOSE_FILE)
DEV = load_yaml(COMPOSE_DEV_FILE)
SERVICES: dict[str, dict[str, Any]] = BASE["services"]
APP_SERVICES = [name for name, service in SERVICES.items() if "build" in service]
README = (REPO / "README.md").read_text()


def deploy_section() -> str:
    return markdown_section(README, "Deploy with Docker Compose")


def merged_services() -> dict[str, dict[str, Any]]:
    return merge_compose(BASE, DEV)["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in service.get("environment", {}).items()}


def resolved(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment as compose passes it: defaults applied, required values `x`."""
    required = {i.name: "x" for i in interpolations(COMPOSE_FILE.read_text()) if i.operator in (None, ":?", "?")}
    return {key: interpolate(value, required) for key, value in environment(service).items()}


def setting_env_names() -> set[str]:
    return {name.upper() for name in Settings.model_fields}


# ---- compose: structure ------------------------------------------------------------------------


@pytest.mark.parametrize("path", [COMPOSE_FILE, COMPOSE_DEV_FILE], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path):
    schema = json.loads((files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text())
    jsonschema.validate(load_yaml(path), schema, cls=jsonschema.Draft202012Validator)


def test_the_stack_has_the_services_of_the_design():
    assert set(SERVICES) == {
        "reasoning-api",
        "web-client",
        "fake-mcp-server",
        "litellm",
        "postgres-litellm",
        "phoenix",
        "postgres-phoenix",
        "postgres-audit",
    }
    assert set(APP_SERVICES) == {"reasoning-api", "web-client", "fake-mcp-server"}


def test_the_dev_overrides_only_touch_services_that_exist():
    assert set(DEV["services"]) <= set(SERVICES)


@pytest.mark.parametrize("services", [SERVICES, merged_services()], ids=["base", "with-dev"])
def test_every_dependency_exists_and_none_is_circular(services):
    graph = {name: set(service.get("depends_on", {})) for name, service in services.items()}
    for name, needs in graph.items():
        assert needs <= set(services), f"{name} depends on unknown services {needs - set(services)}"
        assert all(isinstance(service.get("depends_on", {}), dict) for service in services.values())
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"depends_on has a cycle: {exc.args[1]}")


def test_every_service_waited_on_as_healthy_has_a_health_check():
    waited = {
        target
        for service in SERVICES.values()
        for target, rule in service.get("depends_on", {}).items()
        if rule.get("condition") == "service_healthy"
    }
    assert waited, "nothing waits for a healthy service"
    for name in waited:
        check = SERVICES[name].get("healthcheck", {})
        assert check.get("test"), f"{name} is waited on but has no health check"
        assert not check.get("disable"), f"{name} is waited on but its health check is disabled"


def test_dependencies_follow_the_design():
    def needs(name: str) -> dict[str, str]:
        return {target: rule["condition"] for target, rule in SERVICES[name].get("depends_on", {}).items()}

    # Seed 000's list, plus the audit database and Phoenix (traces are best effort: started is enough).
    assert needs("reasoning-api") == {
        "litellm": "service_healthy",
        "postgres-audit": "service_healthy",
        "fake-mcp-server": "service_started",
        "phoenix": "service_started",
    }
    assert needs("web-client") == {"reasoning-api": "service_healthy"}
    assert needs("litellm") == {"postgres-litellm": "service_healthy", "phoenix": "service_healthy"}
    assert needs("phoenix") == {"postgres-phoenix": "service_healthy"}


def test_every_service_has_a_health_check_and_a_restart_policy():
    for name, service in SERVICES.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name


# Service -> (port it listens on, what its health check asks for).
HEALTH = {
    "reasoning-api": (8000, "/health"),
    "web-client": (8080, "/health"),
    "fake-mcp-server": (8001, "/"),
    "litellm": (4000, "/health/readiness"),
    "phoenix": (6006, "/healthz"),
}


@pytest.mark.parametrize(("name", "expected"), HEALTH.items())
def test_http_health_checks_probe_the_documented_endpoint_with_python(name, expected):
    port, path = expected
    argv = health_command(SERVICES[name])
    # These images have no curl: the check is Python's urllib, which fails on any non-2xx.
    assert argv[:2] in (["python", "-c"], ["python3", "-c"]), argv
    assert f"urlopen('http://127.0.0.1:{port}{path}'" in argv[2]
    assert port in {p.container for p in ports(SERVICES[name])}


@pytest.mark.parametrize("name", ["postgres-litellm", "postgres-phoenix", "postgres-audit"])
def test_postgres_health_checks_ask_their_own_database(name):
    env = environment(SERVICES[name])
    assert health_command(SERVICES[name]) == ["pg_isready", "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]]


def test_one_network_connects_every_service():
    assert list(BASE["networks"]) == ["reasoning-network"]
    for name, service in SERVICES.items():
        assert service.get("networks") == ["reasoning-network"], name


def test_data_lives_in_declared_named_volumes():
    declared = set(BASE["volumes"])
    used = {m.source for s in SERVICES.values() for m in mounts(s) if not m.is_bind}
    assert used == declared, "every named volume is declared, and every declared volume is used"
    for name in ("postgres-litellm", "postgres-phoenix", "postgres-audit"):
        data = [m for m in mounts(SERVICES[name]) if m.target == "/var/lib/postgresql/data"]
        assert data, f"{name} keeps no data volume"
        assert not data[0].is_bind, f"{name} keeps its data in a named volume"
    spill = [m for m in mounts(SERVICES["reasoning-api"]) if m.target == "/app/data"]
    assert spill, "the audit spill file survives a container's replacement"
    assert not spill[0].is_bind


@pytest.mark.parametrize("services", [SERVICES, merged_services()], ids=["base", "with-dev"])
def test_every_bind_mount_source_exists(services):
    for name, service in services.items():
        for mount in mounts(service):
            if mount.is_bind:
                assert (REPO / mount.source).exists(), f"{name} mounts missing {mount.source}"
                assert mount.read_only, f"{name} should mount {mount.source} read-only"


def test_no_image_floats():
    for name, service in SERVICES.items():
        image = service["image"]
        tag = image.rpartition(":")[2] if ":" in image.split("/")[-1] else ""
        assert tag, f"{name} uses an untagged image {image}"
        assert "latest" not in tag, f"{name} uses an unpinned image {image}"


def test_litellm_sends_its_spans_to_phoenix():
    config = yaml.safe_load((REPO / "config/litellm_config.yaml").read_text())
    assert "litellm_phoenix.phoenix_logger" in config["litellm_settings"]["callbacks"]
    # LiteLLM imports the callback's module from the directory of the config it runs.
    mounted = {m.target: m.source for m in mounts(SERVICES["litellm"])}
    assert mounted["/app/litellm_phoenix.py"] == "./config/litellm_phoenix.py"
    environment = SERVICES["litellm"]["environment"]
    assert environment["PHOENIX_COLLECTOR_HTTP_ENDPOINT"].startswith("http://phoenix:6006")


def test_litellm_image_is_the_version_the_tests_run():
    pinned = re.search(r"^litellm\[proxy\]==(\S+)", (REPO / "scripts/requirements/litellm.in").read_text(), re.M)
    assert pinned
    assert SERVICES["litellm"]["image"] == f"ghcr.io/berriai/litellm:v{pinned.group(1)}"


def test_phoenix_image_is_a_pinned_release():
    image = SERVICES["phoenix"]["image"]
    match = re.fullmatch(r"arizephoenix/phoenix:version-(\d+\.\d+\.\d+)-nonroot", image)
    assert match, image
    # The same release `make install-phoenix` installs and the e2e tests run against.
    assert f"arize-phoenix=={match.group(1)}" in (REPO / "scripts/requirements/phoenix.in").read_text()


# ---- compose: what connects to what ---------------------------------------------------------


def listening_ports(name: str) -> set[int]:
    return {p.container for p in ports(SERVICES[name])} | {int(p) for p in SERVICES[name].get("expose", [])}


def test_every_url_names_a_service_and_a_port_it_listens_on():
    published = {p.host for s in SERVICES.values() for p in ports(s)}
    checked = 0
    for name, service in SERVICES.items():
        for variable, value in resolved(service).items():
            for url in urls_in(value):
                host, port, _ = url_parts(url)
                where = f"{name}.{variable}={url}"
                if host in ("localhost", "127.0.0.1"):  # a link for the user's browser
                    assert port in published, f"{where}: not published"
                elif url.startswith("postgresql"):
                    assert host in SERVICES, where
                    assert SERVICES[host]["image"].startswith("postgres:"), where
                    assert port == 5432, where
                else:
                    assert host in SERVICES, f"{where}: no such service"
                    assert port in listening_ports(host), f"{where}: {host} does not listen on {port}"
                checked += 1
    assert checked >= 8


def test_database_urls_use_their_databases_credentials():
    for name, service in SERVICES.items():
        for variable, value in environment(service).items():
            if not value.startswith("postgresql"):
                continue
            match = re.fullmatch(r"postgresql(?:\+\w+)?://([^:]+):(.+)@([^:/]+):5432/(\w+)", value)
            assert match, f"{name}.{variable}: {value}"
            user, password, host, database = match.groups()
            db_env = environment(SERVICES[host])
            assert (user, database) == (db_env["POSTGRES_USER"], db_env["POSTGRES_DB"]), f"{name}.{variable}"
            assert [i.name for i in interpolations(password)] == [
                i.name for i in interpolations(db_env["POSTGRES_PASSWORD"])
            ], f"{name}.{variable} uses another password than {host}"


def test_the_gateway_finds_litellm_phoenix_and_its_audit_database():
    env = resolved(SERVICES["reasoning-api"])
    assert env["LLM_BASE_URL"] == "http://litellm:4000"
    assert env["PHOENIX_COLLECTOR_ENDPOINT"] == "http://phoenix:6006"  # OTLP over HTTP (contract section 9)
    assert url_parts(env["DATABASE_URL"])[0] == "postgres-audit"
    assert env["AUDIT_MIGRATE_ON_START"] == "true"
    assert (
        environment(SERVICES["reasoning-api"])["PHOENIX_PROJECT_NAME"]
        == environment(SERVICES["litellm"])["PHOENIX_PROJECT_NAME"]
    ), "LiteLLM's spans must land in the gateway's Phoenix project to join its traces"


def test_the_web_client_talks_to_the_gateway_inside_the_network():
    env = environment(SERVICES["web-client"])
    assert env["WEB_CLIENT_GATEWAY_URL"] == "http://reasoning-api:8000"
    assert {"WEB_CLIENT_API_TOKEN", "WEB_CLIENT_PHOENIX_URL"} <= set(env)


def test_every_web_client_setting_is_in_compose_the_env_examples_and_the_readme():
    configuration = markdown_section(README, "Configuration") + markdown_section(README, "Web client")
    compose = set(environment(SERVICES["web-client"]))
    for field in WebClientSettings.model_fields:
        name = f"WEB_CLIENT_{field.upper()}"
        assert name in configuration, f"README lacks {name}"
        assert name in compose, f"compose does not pass {name} to web-client"
        for example in ENV_EXAMPLES:
            assert name in env_file(example), f"{example.name} lacks {name}"


def test_compose_runs_the_web_client_with_a_login_it_cannot_start_without():
    env = environment(SERVICES["web-client"])
    assert env["WEB_CLIENT_OPEN"] == "false"
    required = {i.name: i for i in interpolations(COMPOSE_FILE.read_text()) if i.operator == ":?"}
    assert "WEB_CLIENT_PASSWORD" in required
    assert ".env" in (required["WEB_CLIENT_PASSWORD"].argument or "")


def test_litellm_runs_the_project_config_with_its_database_and_phoenix():
    litellm = SERVICES["litellm"]
    command = litellm["command"]
    config_path = command[command.index("--config") + 1]
    [config] = [m for m in mounts(litellm) if m.target == config_path]
    assert config.source == "./config/litellm_config.yaml"
    assert config.read_only
    assert command[command.index("--port") + 1] == "4000"
    env = resolved(litellm)
    assert url_parts(env["DATABASE_URL"])[0] == "postgres-litellm"
    assert env["PHOENIX_COLLECTOR_HTTP_ENDPOINT"] == "http://phoenix:6006/v1/traces"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True", "no cost-map download at start-up"


def test_phoenix_stores_traces_in_postgres_and_calls_nobody():
    env = resolved(SERVICES["phoenix"])
    assert url_parts(env["PHOENIX_SQL_DATABASE_URL"])[0] == "postgres-phoenix"
    assert env["PHOENIX_ALLOW_EXTERNAL_RESOURCES"] == "false"
    assert env["PHOENIX_TELEMETRY_ENABLED"] == "false"
    assert {p.container for p in ports(SERVICES["phoenix"])} == {6006, 4317}


def test_the_real_provider_key_and_the_master_key_reach_only_litellm():
    for name, service in SERVICES.items():
        text = yaml.safe_dump(service.get("environment", {}))
        used = {i.name for i in interpolations(text)}
        if name != "litellm":
            assert not used & {"OPENAI_API_KEY", "LITELLM_MASTER_KEY"}, f"{name} gets a key meant for LiteLLM"
    assert {"OPENAI_API_KEY", "LITELLM_MASTER_KEY"} <= set(environment(SERVICES["litellm"]))


def test_missing_secrets_stop_compose_with_a_message():
    text = COMPOSE_FILE.read_text()
    required = {i.name: i for i in interpolations(text) if i.operator == ":?"}
    for name in (
        "LITELLM_MASTER_KEY",
        "LITELLM_POSTGRES_PASSWORD",
        "PHOENIX_POSTGRES_PASSWORD",
        "AUDIT_POSTGRES_PASSWORD",
    ):
        assert name in required, f"{name} should be ${{{name}:?message}}"
        assert ".env" in (required[name].argument or ""), "the message says where to set it"


# ---- compose: the gateway's configuration ----------------------------------------------------


# Compose runs one worker per container; prometheus_client switches to files as soon as this
# variable exists, even empty, so compose must not pass it.
NOT_PASSED_BY_COMPOSE = {"PROMETHEUS_MULTIPROC_DIR"}


def test_every_gateway_setting_reaches_the_gateway_container():
    missing = setting_env_names() - NOT_PASSED_BY_COMPOSE - set(environment(SERVICES["reasoning-api"]))
    assert not missing, f"add these settings to reasoning-api's environment in docker-compose.yml: {sorted(missing)}"


def test_compose_defaults_are_the_gateway_defaults(monkeypatch):
    env = environment(SERVICES["reasoning-api"])
    defaults = {}
    for variable, value in env.items():
        found = interpolations(value)
        if len(found) == 1 and found[0].operator == ":-" and value == f"${{{variable}:-{found[0].argument}}}":
            defaults[variable] = found[0].argument
    assert len(defaults) >= 25
    required = {"LLM_API_KEY": "sk-x", "API_TOKENS": "t"}
    for variable in setting_env_names():
        monkeypatch.delenv(variable, raising=False)
    for variable, value in required.items():
        monkeypatch.setenv(variable, value)
    built_in = Settings(_env_file=None)
    for variable, value in defaults.items():
        if variable not in required:
            monkeypatch.setenv(variable, value)
    from_compose = Settings(_env_file=None)
    for variable in set(defaults) - set(required):
        field = variable.lower()
        if field in Settings.model_fields:
            assert getattr(from_compose, field) == getattr(built_in, field), f"{variable} default differs"


def test_the_compose_mcp_config_reaches_the_demo_server_by_service_name():
    path = environment(SERVICES["reasoning-api"])["MCP_SERVERS_CONFIG"]
    assert path != "config/mcp_servers.yaml", "the local file stays for `make run`"
    source = image_source(path)
    assert source is not None, f"{path} is not in the image"
    assert source.is_file(), f"{path} does not exist"
    servers = {server.name: server for server in load_mcp_config(source)}
    assert servers["demo"].url == "http://fake-mcp-server:8001/mcp"
    host, port, _ = url_parts(servers["demo"].url)
    assert port in listening_ports(host)
    command = SERVICES["fake-mcp-server"]["command"]
    assert command[command.index("--port") + 1] == str(port)
    assert command[command.index("--host") + 1] == "0.0.0.0"
    local = {server.name for server in load_mcp_config(REPO / "config/mcp_servers.yaml")}
    assert set(servers) == local, "the compose file offers the same servers as the local one"


def test_stdio_mcp_servers_are_installed_in_the_image():
    """The image installs the project's dependencies only, no dependency group."""
    for config in sorted((REPO / "config").glob("mcp_servers*.yaml")):
        for server in load_mcp_config(config):
            if server.command:
                assert console_script_providers(server.command), (
                    f"{config.name}: `{server.command}` is no console script of a runtime dependency"
                )


# ---- env examples ---------------------------------------------------------------------------


def test_every_compose_variable_is_in_both_env_examples():
    used = {i.name for path in (COMPOSE_FILE, COMPOSE_DEV_FILE) for i in interpolations(path.read_text())}
    for example in ENV_EXAMPLES:
        missing = used - set(env_file(example))
        assert not missing, f"{example.name} lacks {sorted(missing)}"


def test_both_env_examples_list_the_same_variables():
    dev, prod = (set(env_file(path)) for path in ENV_EXAMPLES)
    assert dev == prod, f"only in dev: {sorted(dev - prod)}; only in prod: {sorted(prod - dev)}"


def test_every_gateway_setting_is_in_the_env_examples_and_the_readme():
    configuration = markdown_section(README, "Configuration")
    for name in setting_env_names():
        assert f"`{name}`" in configuration, f"README's configuration table lacks {name}"
        for example in ENV_EXAMPLES:
            assert name in env_file(example), f"{example.name} lacks {name}"


def test_every_env_example_variable_is_explained():
    for example in ENV_EXAMPLES:
        lines = example.read_text().splitlines()
        for index, line in enumerate(lines):
            match = re.match(r"([A-Z_][A-Z0-9_]*)=", line)
            if not match:
                continue
            documented = " #" in line or any(
                previous.startswith("#") and not previous.startswith("# ===")
                for previous in lines[max(0, index - 3) : index]
            )
            in_table = f"`{match.group(1)}`" in README
            assert documented or in_table, f"{example.name}: {match.group(1)} has no explanation"


def test_production_example_turns_auth_on_and_leaves_every_secret_empty():
    prod = env_file(REPO / ".env.prod.example")
    assert prod["REQUIRE_AUTH"] == "true"
    assert prod["LOG_FORMAT"] == "json"
    secrets = [name for name in prod if re.search(r"KEY|PASSWORD|TOKENS?$", name)]
    assert len(secrets) >= 8
    for name in secrets:
        assert prod[name] == "", f"{name} must not have a value in .env.prod.example"


def test_development_example_starts_the_stack_as_it_is():
    dev = env_file(REPO / ".env.dev.example")
    for name in (
        "LITELLM_MASTER_KEY",
        "LITELLM_POSTGRES_PASSWORD",
        "PHOENIX_POSTGRES_PASSWORD",
        "AUDIT_POSTGRES_PASSWORD",
    ):
        assert dev[name], f"{name} needs a development value so `docker compose up` starts"
    assert dev["LITELLM_MASTER_KEY"].startswith("sk-")
    assert dev["LLM_API_KEY"] == dev["LITELLM_MASTER_KEY"], "until `make litellm_setup` makes a virtual key"


# ---- ports and the README ---------------------------------------------------------------------


def readme_ports() -> dict[str, set[int]]:
    tables = [t for t in markdown_tables(deploy_section()) if t[0][:2] == ["service", "published on the host"]]
    assert tables, "the deploy section has a `service | published on the host` table"
    found = {}
    for row in tables[0][1:]:
        service = row[0].strip("`")
        found[service] = {int(p) for p in re.findall(r"\b(\d{4,5})\b", row[1])}
    return found


def test_published_ports_match_the_readme():
    compose = {name: {p.host for p in ports(service) if p.host} for name, service in SERVICES.items()}
    assert readme_ports() == compose


def test_only_the_api_listens_beyond_this_machine():
    # The web client holds a gateway token: loopback by default, exposed only behind a TLS proxy.
    for name, service in SERVICES.items():
        for port in ports(service):
            if name == "reasoning-api":
                assert port.host_ip is None, f"{name}:{port.host}"
            else:
                assert port.host_ip == "127.0.0.1", f"{name} publishes {port.host} on every interface"


def test_readme_links_the_production_notes_and_they_cover_the_issue():
    assert "docs/deployment.md" in deploy_section()
    notes = (REPO / "docs/deployment.md").read_text().lower()
    for topic in (
        "load balancer",
        "routing decision cache",
        "tool list",
        "spill",
        "prometheus",
        "secret",
        "require_auth",
        "audit_migrate_on_start",
        "backup",
        "json",
        "postgres-audit",
        "prisma",
    ):
        assert topic in notes, f"docs/deployment.md does not cover {topic!r}"


# ---- Dockerfile ----------------------------------------------------------------------------------


DOCKERFILE = dockerfile()


def stage(name: str) -> list[Any]:
    return [i for i in DOCKERFILE if i.stage == name]


def test_dockerfile_builds_in_two_stages_from_one_base():
    froms = [i.arguments for i in DOCKERFILE if i.keyword == "FROM"]
    assert froms == ["${PYTHON_IMAGE} AS builder", "${PYTHON_IMAGE} AS runtime"]
    [base] = [i.arguments for i in DOCKERFILE if i.keyword == "ARG" and i.arguments.startswith("PYTHON_IMAGE=")]
    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.\d+-slim", base)


def test_builder_installs_exactly_the_lock_without_any_dependency_group():
    syncs = [i.arguments for i in stage("builder") if i.keyword == "RUN" and "uv sync" in i.arguments]
    assert len(syncs) == 2
    for command in syncs:
        assert "--frozen" in command
        # Not just --no-dev: every dependency group (dev, bench, ...) stays out of the image.
        assert "--no-default-groups" in command
    assert "--no-editable" in syncs[-1], "the runtime stage must not need the source tree"
    makefile_uv = re.search(r"^UV_VERSION := (\S+)", (REPO / "Makefile").read_text(), re.M)
    assert makefile_uv
    assert f"uv=={makefile_uv.group(1)}" in " ".join(i.arguments for i in stage("builder"))


def test_runtime_is_unprivileged_unbuffered_with_the_venv_on_path():
    runtime = stage("runtime")
    env = " ".join(i.arguments for i in runtime if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    venv = re.search(r"UV_PROJECT_ENVIRONMENT=(\S+)", " ".join(i.arguments for i in stage("builder")))
    assert venv
    assert f'PATH="{venv.group(1)}/bin:' in env
    assert [i.arguments for i in runtime if i.keyword == "COPY" and "--from=builder" in i.arguments] == [
        f"--from=builder {venv.group(1)} {venv.group(1)}"
    ]
    users = [i.arguments for i in runtime if i.keyword == "USER"]
    assert users
    assert users[-1] not in ("root", "0")
    assert [i for i in runtime if i.keyword == "HEALTHCHECK"]


def test_everything_the_dockerfile_copies_exists_and_reaches_the_build_context():
    patterns = dockerignore_patterns()
    for instruction in DOCKERFILE:
        if instruction.keyword != "COPY":
            continue
        sources, _, flags = copy_sources(instruction)
        if "from" in flags:
            continue
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file"
            assert not is_dockerignored(source, patterns), f"COPY {source} is excluded by .dockerignore"


def test_dockerignore_keeps_secrets_and_environments_out_of_the_context():
    patterns = dockerignore_patterns()
    for path in (".env", ".env.prod", ".venv/bin/python", ".tools/litellm", ".git/config", "api/__pycache__/x.pyc"):
        assert is_dockerignored(path, patterns), path
    assert not is_dockerignored("api/main.py", patterns)


def json_argv(instruction_arguments: str) -> list[str]:
    start = instruction_arguments.index("[")
    return json.loads(instruction_arguments[start:])


def test_the_image_command_serves_the_app_factory_and_its_health_check_asks_it():
    [cmd] = [json_argv(i.arguments) for i in stage("runtime") if i.keyword == "CMD"]
    assert cmd[:3] == ["uvicorn", "--factory", "api.main:create_app"]
    module, attribute = cmd[2].split(":")
    assert callable(getattr(import_module(module), attribute))
    port = cmd[cmd.index("--port") + 1]
    [expose] = [i.arguments for i in stage("runtime") if i.keyword == "EXPOSE"]
    [check] = [i.arguments for i in stage("runtime") if i.keyword == "HEALTHCHECK"]
    assert expose == port
    assert f"http://127.0.0.1:{port}/health'" in check
    assert SERVICES["reasoning-api"]["command"] == cmd


def _seconds(duration: str) -> float:
    """A compose duration (`45s`, `1m30s`) in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert "".join(n + u for n, u in parts) == duration, f"not a compose duration: {duration}"
    return sum(float(number) * units[unit] for number, unit in parts)


def test_the_stop_grace_period_leaves_room_for_the_drain_and_the_flush():
    """SIGTERM → drain → cut streams end → uvicorn's wait → audit queue → spans, before SIGKILL."""
    service = merged_services()["reasoning-api"]
    assert service["command"][: len(SERVICES["reasoning-api"]["command"])] == SERVICES["reasoning-api"]["command"]
    command = SERVICES["reasoning-api"]["command"]
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    env = resolved(SERVICES["reasoning-api"])
    needed = shutdown_seconds(command, float(env["SHUTDOWN_DRAIN_SECONDS"]), float(env["AUDIT_SHUTDOWN_DRAIN_SECONDS"]))
    grace = _seconds(service["stop_grace_period"])
    print(f"stop grace {grace} s, shutdown needs at most {needed} s")
    assert grace > needed, f"stop_grace_period {grace} s leaves no room for a {needed} s shutdown"
    assert graceful <= CUT_GRACE_SECONDS + 2, "uvicorn's own wait only bounds connections left after the drain"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_each_app_service_runs_something_the_image_contains(name):
    service = SERVICES[name]
    assert service["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    assert service["image"] == SERVICES["reasoning-api"]["image"], "one image, built once"
    contents = image_files()
    command = service["command"]
    if command[0] == "uvicorn":
        module = command[command.index("--factory") + 1].split(":")[0]
        assert import_module(module), module  # installed into the venv by the builder stage
    elif command[:2] == ["python", "-m"]:
        package = command[2]
        assert package in contents, f"{package}/ is not copied into the image"
        assert (contents[package] / "__main__.py").is_file(), f"{package}/ cannot run with python -m"
        assert import_module(f"{package}.__main__"), package
    else:
        assert command[0] == "python", command
        assert command[1] in contents, f"{command[1]} is not copied into the image"
        assert contents[command[1]].is_file()


# ---- dev overrides ----------------------------------------------------------------------------


def test_dev_overrides_turn_auth_off_reload_and_mount_the_source():
    api = merged_services()["reasoning-api"]
    env = environment(api)
    assert env["REQUIRE_AUTH"] == "false"
    assert env["LOG_LEVEL"] == "DEBUG"
    assert env["LOG_FORMAT"] == "console"
    assert "--reload" in api["command"]
    assert api["command"][: api["command"].index("--reload")] == SERVICES["reasoning-api"]["command"]
    sources = {m.target: m.source for m in mounts(api)}
    assert sources["/app/api"] == "./api"
    assert sources["/app/config"] == "./config"
    assert sources["/app/data"] == "reasoning_api_data", "the base file's volume stays"
    for reload_dir in [api["command"][i + 1] for i, arg in enumerate(api["command"]) if arg == "--reload-dir"]:
        assert reload_dir in sources, f"--reload-dir {reload_dir} is not mounted"


def test_dev_overrides_mount_the_source_of_every_app_service():
    merged = merged_services()
    for name in APP_SERVICES:
        binds = [m for m in mounts(merged[name]) if m.is_bind]
        assert binds, f"{name} does not see source edits in development"


# ---- Makefile ----------------------------------------------------------------------------------


def make_dry_run(*args: str) -> str:
    return subprocess.run(["make", "-n", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout


def test_make_help_lists_the_litellm_and_docker_targets():
    listed = subprocess.run(["make", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = re.sub(r"\x1b\[[0-9;]*m", "", listed)
    for target in ("litellm_setup", "litellm_ui", "litellm_logs", "litellm_restart", "litellm_reset"):
        assert re.search(rf"\b{target}\b", listed), target
    for target in ("docker-up", "docker-dev", "docker-down"):
        assert re.search(rf"\b{target}\b", listed), target


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("litellm_logs", "docker compose logs -f litellm"),
        ("litellm_restart", "docker compose restart litellm"),
        ("docker-down", "docker compose down"),
    ],
)
def test_make_targets_drive_compose_services_that_exist(target, expected):
    assert expected in make_dry_run(target)


def test_make_litellm_reset_asks_first_and_recreates_only_litellms_database():
    plan = make_dry_run("litellm_reset")
    assert "Type yes" in plan
    [removed] = re.findall(r"_(\w+)\"$", plan, re.M)
    assert removed == "litellm_postgres_data"
    assert removed in BASE["volumes"]
    [mount] = [m for m in mounts(SERVICES["postgres-litellm"]) if not m.is_bind]
    assert mount.source == removed
    assert "rm --stop --force litellm postgres-litellm" in plan
    assert plan.index("up -d --wait litellm") < plan.index("setup_litellm_keys.sh")


def test_make_docker_targets_use_the_dev_overrides_only_for_development():
    assert "docker compose -f docker-compose.yml -f docker-compose.dev.yml up -d --build --wait" in make_dry_run(
        "docker-dev"
    )
    assert "docker compose up -d --build --wait" in make_dry_run("docker-up")


def test_the_demo_stack_fails_over_as_production_does():
    production = yaml.safe_load((REPO / "config/litellm_config.yaml").read_text())
    demo = yaml.safe_load((REPO / "config/litellm_demo_config.yaml").read_text())
    assert demo["router_settings"] == production["router_settings"]
    assert production["router_settings"]["fallbacks"] == [{"gpt-4o": ["gpt-4o-mini"]}]
