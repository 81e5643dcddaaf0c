"""deploy/kubernetes keeps its promises: valid objects, and the gateway run as the image and settings say.

No cluster runs here. The manifests are validated offline against the Kubernetes API schemas
that `kubernetes-validate` ships (strict: an unknown or misspelt field fails), for
KUBERNETES_VERSION, the oldest release the manifests are written for (the preStop `sleep`
action needs 1.30), and for the newest the package knows. The rest reads them the way the
kubelet would and checks them against the Dockerfile, the settings and the app, as
tests/unit/test_deployment.py does for compose.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from api.clients.registry import load_registry
from api.config import Settings
from api.lifecycle.drain import SERVED_WHILE_DRAINING
from api.main import PUBLIC_PATHS, create_app
from api.mcp.config import load_mcp_config
from api.readiness import CHECK_TIMEOUT_SECONDS
from tests.support.deployment_files import (
    COMPOSE_FILE,
    KUBERNETES_DIR,
    KUSTOMIZATION,
    REPO,
    EnvVar,
    Manifest,
    console_script_providers,
    container_env,
    kubernetes_manifests,
    kubernetes_object,
    load_yaml,
    markdown_section,
    runtime_command,
    runtime_user_ids,
    runtime_value,
    shutdown_seconds,
)

KUBERNETES_VERSION = "1.33"
VERSIONS = (KUBERNETES_VERSION, kubernetes_validate.latest_version())

MANIFESTS = kubernetes_manifests()
DEPLOYMENT = kubernetes_object("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
[GATEWAY] = POD["containers"]
ENV = container_env(GATEWAY)
CONFIG_MAP = kubernetes_object("ConfigMap")
SECRET_NAME = "reasoning-api"
#: What a pod is handed through the Secret; the names of the keys are those of the variables.
SECRETS = {"LLM_API_KEY", "API_TOKENS", "DATABASE_URL", "AUDIT_HASH_KEY", "REDIS_URL"}
#: Placeholder Secret values of the right shape, to build the pod's Settings from.
SECRET_VALUES = {
    "LLM_API_KEY": "sk-placeholder",
    "API_TOKENS": "token-one",
    "DATABASE_URL": "postgresql://audit_user:password@postgres-audit:5432/audit",
    "AUDIT_HASH_KEY": "0" * 64,
    "REDIS_URL": "redis://redis:6379/0",
}


def all_containers() -> list[dict[str, Any]]:
    return [*POD.get("initContainers", []), *POD["containers"]]


def pod_labels() -> dict[str, str]:
    return DEPLOYMENT["spec"]["template"]["metadata"]["labels"]


def selects_the_pods(selector: dict[str, str]) -> bool:
    return bool(selector) and selector.items() <= pod_labels().items()


def clients_token_envs() -> set[str]:
    clients = yaml.safe_load(CONFIG_MAP["data"]["clients.yaml"])["clients"]
    return {client["token_env"] for client in clients if "token_env" in client}


def pod_environment() -> dict[str, str]:
    """The gateway's environment in a pod: the literal values, and placeholders for the Secret's."""
    return {
        name: var.value if var.value is not None else SECRET_VALUES.get(name, f"placeholder-{name.lower()}")
        for name, var in ENV.items()
    }


def pod_settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The Settings a pod's gateway reads: its environment is the manifest's and nothing else."""
    environment = pod_environment()
    for field in Settings.model_fields:
        monkeypatch.delenv(field.upper(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


@pytest.fixture
def pod_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory laid out as the pod's /app: config/ holds the ConfigMap's files."""
    (tmp_path / "config").mkdir()
    for key, text in CONFIG_MAP["data"].items():
        (tmp_path / "config" / key).write_text(text)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def mounts(container: dict[str, Any]) -> dict[PurePosixPath, dict[str, Any]]:
    """mount path -> the volume mounted there."""
    volumes = {volume["name"]: volume for volume in POD.get("volumes", [])}
    return {PurePosixPath(m["mountPath"]): volumes[m["name"]] for m in container.get("volumeMounts", [])}


def in_the_image(path: Path) -> PurePosixPath:
    """Where a setting's path lands in the container: relative ones from the image's WORKDIR."""
    return PurePosixPath(runtime_value("WORKDIR")) / PurePosixPath(path)


# ---- schemas and structure -------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: f"{m.path.name}:{m.kind}")
def test_every_manifest_follows_the_kubernetes_schemas(manifest: Manifest, version: str):
    try:
        kubernetes_validate.validate(manifest.body, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path)
        problem = f"{manifest.path.name}: {manifest.kind}/{manifest.name} at {where}: {exc.message}"
    else:
        return
    pytest.fail(problem)  # outside the except: the schema itself is not worth printing


def test_the_kustomization_lists_every_manifest_and_nothing_else():
    listed = load_yaml(KUSTOMIZATION)["resources"]
    on_disk = {path.name for path in KUBERNETES_DIR.glob("*.yaml")} - {KUSTOMIZATION.name}
    assert sorted(listed) == sorted(on_disk)
    kinds = sorted(m.kind for m in MANIFESTS)
    assert kinds == ["ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget", "Service"]
    assert len({(m.kind, m.name) for m in MANIFESTS}) == len(MANIFESTS)


def test_the_service_the_budget_and_the_autoscaler_all_point_at_the_gateway_pods():
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= pod_labels().items()
    service = kubernetes_object("Service")
    assert selects_the_pods(service["spec"]["selector"])
    port_names = {port["name"]: port["containerPort"] for port in GATEWAY["ports"]}
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in port_names, f"Service port {port['name']} targets no container port"
    assert selects_the_pods(kubernetes_object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"])
    for spread in POD.get("topologySpreadConstraints", []):
        assert selects_the_pods(spread["labelSelector"]["matchLabels"])
    target = kubernetes_object("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": DEPLOYMENT["metadata"]["name"]}


def test_the_autoscaler_scales_on_cpu_against_a_cpu_request_and_owns_the_replica_count():
    hpa = kubernetes_object("HorizontalPodAutoscaler")["spec"]
    [metric] = hpa["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert GATEWAY["resources"]["requests"]["cpu"], "CPU utilization is a share of the request"
    # `kubectl apply` of a Deployment with `replicas` would undo the autoscaler's count.
    assert "replicas" not in DEPLOYMENT["spec"]
    assert hpa["minReplicas"] >= 2, "one replica cannot drain while another serves"
    # At the autoscaler's minimum, the budget lets a node drain evict one pod and keeps one serving.
    budget = kubernetes_object("PodDisruptionBudget")["spec"]
    unavailable = budget.get("maxUnavailable", hpa["minReplicas"] - budget.get("minAvailable", 0))
    assert 1 <= unavailable < hpa["minReplicas"]
    rollout = DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]
    assert rollout["maxUnavailable"] == 0, "a rollout starts a new pod before an old one drains"
    for container in all_containers():
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{container['name']} {kind}"


# ---- the container runs what the image runs --------------------------------------------------


def test_the_containers_run_the_image_compose_builds_with_the_dockerfiles_command_and_port():
    image = load_yaml(COMPOSE_FILE)["services"]["reasoning-api"]["image"]
    for container in all_containers():
        assert container["image"] == image, container["name"]
        assert "command" not in container, "the image has no ENTRYPOINT to replace"
    command = runtime_command()
    assert GATEWAY["args"] == command
    port = int(command[command.index("--port") + 1])
    assert port == int(runtime_value("EXPOSE"))
    assert [p["containerPort"] for p in GATEWAY["ports"]] == [port]
    annotations = DEPLOYMENT["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == str(port)


def test_the_init_container_runs_make_migrate_and_the_gateway_then_does_not_migrate():
    [migrate] = POD["initContainers"]
    recipe = re.search(r"^migrate:.*\n\t(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert recipe, "no `make migrate` recipe"
    python, *arguments = recipe.group(1).split()
    assert python == "$(VENV)/bin/python"
    assert migrate["args"] == ["python", *arguments]
    assert set(container_env(migrate)) == {"DATABASE_URL"}, "the migration needs only the audit settings"
    assert container_env(migrate)["DATABASE_URL"] == ENV["DATABASE_URL"]
    assert ENV["AUDIT_MIGRATE_ON_START"].value == "false"


def test_the_probes_ask_what_the_app_serves_without_a_token_and_while_draining(pod_workdir, monkeypatch):
    served = create_app(pod_settings(monkeypatch)).openapi()["paths"]
    probes = {kind: GATEWAY[kind]["httpGet"] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes["livenessProbe"]["path"] == "/health"
    assert probes["startupProbe"]["path"] == "/health"
    assert probes["readinessProbe"]["path"] == "/health/ready"
    ports = {port["name"] for port in GATEWAY["ports"]}
    for kind, probe in probes.items():
        assert "get" in served[probe["path"]], f"{kind}: no GET {probe['path']}"
        assert probe["path"] in PUBLIC_PATHS, f"{kind}: {probe['path']} would need a token"
        # Liveness must not fail a pod that drains; readiness must show the drain.
        assert probe["path"] in SERVED_WHILE_DRAINING, f"{kind}: {probe['path']} is refused while draining"
        assert probe["port"] in ports
    assert GATEWAY["readinessProbe"]["timeoutSeconds"] > CHECK_TIMEOUT_SECONDS + 0.5, "each check may take 2.5 s"


def test_the_grace_period_covers_the_prestop_and_the_whole_shutdown(monkeypatch):
    """Deletion → preStop sleep → SIGTERM → drain → cut streams → uvicorn → audit → spans, then SIGKILL."""
    settings = pod_settings(monkeypatch)
    pre_stop = GATEWAY["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pre_stop >= 3, "endpoints need a moment to drop the pod before it refuses requests"
    needed = pre_stop + shutdown_seconds(
        GATEWAY["args"], settings.shutdown_drain_seconds, settings.audit_shutdown_drain_seconds
    )
    grace = POD["terminationGracePeriodSeconds"]
    print(f"terminationGracePeriodSeconds {grace} s, preStop + shutdown need at most {needed} s")
    assert grace > needed, f"{grace} s leaves no room for a {needed} s stop"
    # The values the grace period was computed from are set in the manifest, not left to defaults.
    assert {"SHUTDOWN_DRAIN_SECONDS", "AUDIT_SHUTDOWN_DRAIN_SECONDS"} <= set(ENV)


# ---- the pod's security ----------------------------------------------------------------------


def test_every_container_runs_as_the_dockerfile_user_on_a_read_only_root_without_privileges():
    uid, gid = runtime_user_ids()
    pod = POD["securityContext"]
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("fsGroup") == gid, "the emptyDirs belong to the image's group"
    for container in all_containers():
        effective = {**pod, **container.get("securityContext", {})}
        assert effective["runAsNonRoot"] is True
        assert effective["runAsUser"] == uid, container["name"]
        assert effective["runAsGroup"] == gid, container["name"]
        assert effective["readOnlyRootFilesystem"] is True, container["name"]
        assert effective["allowPrivilegeEscalation"] is False, container["name"]
        assert effective["capabilities"]["drop"] == ["ALL"], container["name"]
        assert "add" not in effective["capabilities"]
    assert POD["automountServiceAccountToken"] is False
    # The environment is the manifest's alone: no *_SERVICE_HOST / *_PORT of other Services.
    assert POD["enableServiceLinks"] is False


def test_every_path_the_gateway_writes_is_on_a_writable_volume(monkeypatch):
    """With a read-only root, the journal (and metrics' folder, when set) must be on emptyDirs."""
    settings = pod_settings(monkeypatch)
    writes = {in_the_image(settings.audit_journal_dir), PurePosixPath("/tmp")}
    if settings.prometheus_multiproc_dir is not None:
        writes.add(in_the_image(settings.prometheus_multiproc_dir))
    writable = {path: volume for path, volume in mounts(GATEWAY).items() if "emptyDir" in volume}
    for path in writes:
        covering = [mount for mount in writable if path == mount or mount in path.parents]
        assert covering, f"{path} is on the read-only root filesystem"
    [journal_volume] = [v for m, v in writable.items() if in_the_image(settings.audit_journal_dir).is_relative_to(m)]
    limit = journal_volume["emptyDir"]["sizeLimit"]
    assert limit.endswith("Mi")
    assert int(limit[:-2]) * 1024 * 1024 > settings.audit_journal_max_bytes, "a full journal would evict the pod"
    assert str(ENV["AUDIT_JOURNAL_MAX_BYTES"].value) == str(settings.audit_journal_max_bytes)


# ---- environment and secrets -----------------------------------------------------------------


def test_every_variable_is_a_gateway_setting_or_a_clients_token():
    settings = {name.upper() for name in Settings.model_fields}
    unknown = set(ENV) - settings - clients_token_envs()
    assert not unknown, f"not gateway settings (README, Configuration): {sorted(unknown)}"


def test_secrets_come_from_the_secret_and_only_from_it():
    from_secret = {name for name, var in ENV.items() if var.secret is not None}
    assert from_secret == SECRETS | clients_token_envs()
    secret_fields = {
        name.upper() for name, field in Settings.model_fields.items() if SecretStr in (field.annotation, *_args(field))
    }
    literal = (secret_fields & set(ENV)) - from_secret
    assert not literal, f"secrets given as literal values: {sorted(literal)}"
    for name in from_secret:
        var: EnvVar = ENV[name]
        assert var.secret == SECRET_NAME
        assert var.secret_key == name, "each Secret key is named as its variable (--from-env-file)"
        # A pod without one of them must not start; only API_TOKENS may be absent (clients file).
        assert var.optional == (name == "API_TOKENS"), name


def _args(field: Any) -> tuple[Any, ...]:
    return getattr(field.annotation, "__args__", ())


def test_the_pod_environment_is_valid_gateway_configuration_with_auth_on(monkeypatch):
    settings = pod_settings(monkeypatch)
    assert settings.require_auth is True
    assert settings.log_format == "json"
    assert settings.audit_migrate_on_start is False


def test_several_replicas_share_a_postgres_and_a_redis():
    """Replicas would each keep an SQLite file and their own counters otherwise."""
    for name in ("DATABASE_URL", "REDIS_URL"):
        assert ENV[name].secret is not None
        assert not ENV[name].optional, f"{name} must be there for more than one replica"
    notes = (KUBERNETES_DIR / "kustomization.yaml").read_text() + (KUBERNETES_DIR / "deployment.yaml").read_text()
    assert "Postgres" in notes
    assert "REDIS_URL" in notes


# ---- config/ as a ConfigMap ------------------------------------------------------------------


def test_the_config_map_holds_the_files_the_gateway_reads_from_config(monkeypatch):
    settings = pod_settings(monkeypatch)
    [config_mount] = [path for path, volume in mounts(GATEWAY).items() if "configMap" in volume]
    assert mounts(GATEWAY)[config_mount]["configMap"]["name"] == CONFIG_MAP["metadata"]["name"]
    assert config_mount == in_the_image(Path("config")), "over the image's config/, where the settings look"
    read = {in_the_image(Path(settings.mcp_servers_config)), in_the_image(settings.clients_path)}
    assert read == {config_mount / key for key in CONFIG_MAP["data"]}, "every file read is there, and only those"
    for key in CONFIG_MAP["data"]:
        twins = [REPO / "config" / key, REPO / "config" / key.replace(".yaml", ".example.yaml")]
        assert any(path.is_file() for path in twins), f"{key}: no such file in config/ to start from"


def test_the_config_maps_mcp_servers_load_and_their_commands_are_in_the_image(tmp_path):
    path = tmp_path / "mcp_servers.yaml"
    path.write_text(CONFIG_MAP["data"]["mcp_servers.yaml"])
    servers = load_mcp_config(path)
    assert servers
    for server in servers:
        if server.command:
            assert console_script_providers(server.command), f"`{server.command}` is not installed in the image"
        else:
            assert "localhost" not in server.url, "localhost in a pod is the pod itself"


def test_the_config_maps_clients_load_with_tokens_from_the_secret(tmp_path):
    path = tmp_path / "clients.yaml"
    path.write_text(CONFIG_MAP["data"]["clients.yaml"])
    tokens = clients_token_envs()
    assert tokens <= {name for name, var in ENV.items() if var.secret == SECRET_NAME}
    registry = load_registry(path, [], {name: f"token-of-{name}" for name in tokens})
    assert len(registry) >= 1


# ---- docs ------------------------------------------------------------------------------------


def test_the_deployment_notes_explain_the_kubernetes_manifests():
    section = markdown_section((REPO / "docs/deployment.md").read_text(), "Kubernetes")
    assert "kubectl apply -k deploy/kubernetes" in section
    for name in SECRETS | clients_token_envs():
        assert f"`{name}`" in section or f"{name}=" in section, f"the Kubernetes section does not name {name}"
    assert f"terminationGracePeriodSeconds: {POD['terminationGracePeriodSeconds']}" in section
    assert f"Kubernetes {KUBERNETES_VERSION}" in section
    for topic in ("Postgres", "Redis", "preStop", "emptyDir", "advisory lock", "PodDisruptionBudget"):
        assert topic in section, f"the Kubernetes section does not cover {topic}"
    assert "deploy/kubernetes" in (REPO / "README.md").read_text()
