"""Readers for the deployment files (compose, Kubernetes, Dockerfile, .dockerignore, env examples, README).

There is no Docker engine on the build machines, so the tests read these files the way
Docker and compose would and check what they promise: what runs, where it connects,
which variables and ports it uses.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import tomllib
from dataclasses import dataclass
from importlib.metadata import distribution
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from packaging.requirements import Requirement

from api.lifecycle.drain import CUT_GRACE_SECONDS
from api.observability.otlp import EXPORT_TIMEOUT_SECONDS
from tests.support.processes import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_DEV_FILE = REPO / "docker-compose.dev.yml"
ENV_EXAMPLES = (REPO / ".env.dev.example", REPO / ".env.prod.example")
# What a container inherits besides the environment its service or pod gives it (the image's ENV).
IMAGE_ENV = {"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ escapes a dollar.
_INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


@dataclass(frozen=True)
class Interpolation:
    name: str
    operator: str | None  # ":-", "-", ":?", "?" or None
    argument: str | None


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def interpolations(text: str) -> list[Interpolation]:
    """Every variable a compose file interpolates, in order."""
    return [Interpolation(m.group(1), m.group(2), m.group(3)) for m in _INTERPOLATION.finditer(text)]


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's substitution of `value` with `env` (defaults applied; `:?` on empty raises)."""

    def substitute(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if (operator in (":-", ":?") and not current) or (operator in ("-", "?") and current is None):
            if operator and operator.endswith("?"):
                raise ValueError(f"{name}: {argument}")
            return argument or ""
        return current or ""

    return _INTERPOLATION.sub(substitute, value).replace("$$", "$")


def merge_compose(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of an override file: mappings merge, `command` and `healthcheck.test`
    replace, `volumes` and `ports` add up (by target path for volumes)."""
    merged = dict(base)
    for key, value in override.items():
        if key in ("command", "test", "entrypoint"):
            merged[key] = value
        elif key == "volumes" and isinstance(value, list) and isinstance(merged.get(key), list):
            targets = {_volume_target(v): v for v in merged[key]}
            targets.update({_volume_target(v): v for v in value})
            merged[key] = list(targets.values())
        elif key == "ports" and isinstance(value, list):
            merged[key] = [*merged.get(key, []), *value]
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_compose(merged[key], value)
        else:
            merged[key] = value
    return merged


def _volume_target(volume: str | dict[str, Any]) -> str:
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool

    @property
    def is_bind(self) -> bool:
        return self.source.startswith((".", "/"))


def mounts(service: dict[str, Any]) -> list[Mount]:
    found = []
    for volume in service.get("volumes", []):
        parts = volume.split(":")
        found.append(Mount(parts[0], parts[1], len(parts) > 2 and "ro" in parts[2].split(",")))
    return found


@dataclass(frozen=True)
class Port:
    host_ip: str | None
    host: int | None
    container: int


def ports(service: dict[str, Any]) -> list[Port]:
    """The service's `ports` in short syntax: [[ip:]host:]container."""
    found = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        container = int(parts[-1].split("/")[0])
        host = int(parts[-2]) if len(parts) >= 2 else None
        found.append(Port(parts[-3] if len(parts) == 3 else None, host, container))
    return found


def health_command(service: dict[str, Any]) -> list[str]:
    """The health check as argv (CMD form as is; CMD-SHELL through a shell)."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["sh", "-c", test]
    kind, *argv = test
    return argv if kind == "CMD" else ["sh", "-c", " ".join(argv)]


def urls_in(text: str) -> list[str]:
    return re.findall(r"(?:https?|postgresql(?:\+\w+)?)://[^\s'\"]+", text)


def url_parts(url: str) -> tuple[str | None, int | None, str]:
    parts = urlsplit(url)
    return parts.hostname, parts.port, parts.path


# ---- env files ---------------------------------------------------------------------------------


def env_file(path: Path) -> dict[str, str]:
    """NAME -> value of a dotenv file (comments and inline ` # ...` dropped)."""
    values = {}
    for line in path.read_text().splitlines():
        match = re.match(r"\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
        if match:
            values[match.group(1)] = re.split(r"\s+#", match.group(2), maxsplit=1)[0].strip()
    return values


# ---- Dockerfile --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    stage: str
    keyword: str
    arguments: str


def dockerfile(path: Path = REPO / "Dockerfile") -> list[Instruction]:
    """The Dockerfile's instructions, continuation lines joined, each tagged with its stage."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    instructions = []
    stage = ""
    for entry in logical:
        keyword, _, arguments = entry.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = arguments.split()
            stage = words[2] if len(words) >= 3 and words[1].lower() == "as" else words[0]
        instructions.append(Instruction(stage, keyword, arguments.strip()))
    return instructions


def copy_sources(instruction: Instruction) -> tuple[list[str], str, dict[str, str]]:
    """A COPY's (sources, destination, flags)."""
    words = shlex.split(instruction.arguments)
    flags = dict(w[2:].split("=", 1) for w in words if w.startswith("--"))
    paths = [w for w in words if not w.startswith("--")]
    return paths[:-1], paths[-1], flags


def dockerignore_patterns(path: Path = REPO / ".dockerignore") -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def is_dockerignored(relative: str, patterns: list[str]) -> bool:
    """Whether `relative` (or a folder above it) is left out of the build context.

    Enough of Docker's matching for our file: names, `*` and `**/` prefixes; no `!`."""
    parts = Path(relative).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for candidate in candidates:
            if fnmatch.fnmatchcase(candidate, pattern) or (
                pattern.startswith("**/") and fnmatch.fnmatchcase(Path(candidate).name, bare)
            ):
                return True
    return False


def image_files(stage: str = "runtime") -> dict[str, Path]:
    """What the Dockerfile copies from the build context into `stage`: destination -> source."""
    files = {}
    for instruction in dockerfile():
        if instruction.stage != stage or instruction.keyword != "COPY":
            continue
        sources, destination, flags = copy_sources(instruction)
        if "from" in flags:
            continue
        for source in sources:
            target = destination if not destination.endswith("/") else destination + Path(source).name
            files[str(Path(target))] = REPO / source
    return files


def image_source(relative: str, stage: str = "runtime") -> Path | None:
    """The build-context file that ends up at `relative` (to WORKDIR) in the image, if any."""
    for destination, source in image_files(stage).items():
        if relative == destination:
            return source
        if relative.startswith(destination + "/"):
            return source / relative[len(destination) + 1 :]
    return None


def runtime_command() -> list[str]:
    """The runtime stage's CMD, as argv (exec form)."""
    [cmd] = [i.arguments for i in dockerfile() if i.stage == "runtime" and i.keyword == "CMD"]
    return json.loads(cmd[cmd.index("[") :])


def runtime_value(keyword: str) -> str:
    """The last `keyword` instruction's arguments in the runtime stage (USER, WORKDIR, EXPOSE)."""
    return [i.arguments for i in dockerfile() if i.stage == "runtime" and i.keyword == keyword][-1]


def runtime_user_ids() -> tuple[int, int]:
    """The uid and gid of the runtime stage's USER, from the `groupadd`/`useradd` that made it."""
    user = runtime_value("USER")
    script = " ".join(i.arguments for i in dockerfile() if i.stage == "runtime" and i.keyword == "RUN")
    uid = re.search(rf"useradd\b[^&;]*--uid (\d+)[^&;]*\b{re.escape(user)}\b", script)
    group = re.search(rf"useradd\b[^&;]*--gid (\S+)[^&;]*\b{re.escape(user)}\b", script)
    assert uid, f"no useradd --uid for USER {user}"
    assert group, f"no useradd --gid for USER {user}"
    gid = re.search(rf"groupadd\b[^&;]*--gid (\d+)[^&;]*\b{re.escape(group.group(1))}\b", script)
    assert gid, f"no groupadd --gid for group {group.group(1)}"
    return int(uid.group(1)), int(gid.group(1))


def console_script_providers(command: str) -> set[str]:
    """The runtime dependencies (what the image installs) whose console scripts include `command`."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    runtime = {Requirement(spec).name for spec in pyproject["project"]["dependencies"]}
    return {dist for dist in runtime if any(ep.name == command for ep in distribution(dist).entry_points)}


def image_root_in(root: Path) -> Path:
    """`root` laid out as the runtime stage's /app: what the Dockerfile copies, and an empty data/."""
    for destination, source in image_files().items():
        target = root / destination
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (root / "data").mkdir()
    return root


def on_port(argv: list[str], old: int, new: int) -> list[str]:
    """`argv` with the service's fixed port replaced by a free one (flags and URLs alike)."""
    return [str(new) if arg == str(old) else arg.replace(f"127.0.0.1:{old}/", f"127.0.0.1:{new}/") for arg in argv]


def loopback(argv: list[str]) -> list[str]:
    """A uvicorn command bound to 127.0.0.1 instead of 0.0.0.0: tests serve this machine only."""
    return ["127.0.0.1" if arg == "0.0.0.0" else arg for arg in argv]


# ---- README --------------------------------------------------------------------------------------


def markdown_section(text: str, heading: str) -> str:
    """The body of the section titled `heading`, up to the next heading of the same level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    if not match:
        raise AssertionError(f"no section {heading!r}")
    level = len(match.group(1))
    rest = text[match.end() :]
    # A `# comment` line inside a fenced code block is no heading.
    fences = [m.span() for m in re.finditer(r"^```.*?^```", rest, re.M | re.S)]
    for end in re.finditer(rf"^#{{1,{level}}} ", rest, re.M):
        if not any(start <= end.start() < stop for start, stop in fences):
            return rest[: end.start()]
    return rest


def markdown_tables(section: str) -> list[list[list[str]]]:
    """Every table in `section` as rows of cells (the header row first, the --- row dropped)."""
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not all(set(cell) <= set("-: ") for cell in cells):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


# ---- shutdown ------------------------------------------------------------------------------------


def shutdown_seconds(command: list[str], drain: float, audit_drain: float) -> float:
    """The longest the gateway takes from SIGTERM to its exit (README "Shutdown").

    The drain, the cut streams' grace, uvicorn's wait (`--timeout-graceful-shutdown`), the
    audit queue, closing the store, the span export, and a second of slack for the loop."""
    graceful = float(command[command.index("--timeout-graceful-shutdown") + 1])
    store_close = 2.0  # AuditWriter.close bounds closing the store
    return drain + CUT_GRACE_SECONDS + graceful + audit_drain + store_close + EXPORT_TIMEOUT_SECONDS + 1


# ---- Kubernetes (deploy/kubernetes) --------------------------------------------------------------

KUBERNETES_DIR = REPO / "deploy" / "kubernetes"
KUSTOMIZATION = KUBERNETES_DIR / "kustomization.yaml"


@dataclass(frozen=True)
class Manifest:
    path: Path
    body: dict[str, Any]

    @property
    def kind(self) -> str:
        return self.body["kind"]

    @property
    def name(self) -> str:
        return self.body["metadata"]["name"]


def kubernetes_manifests() -> list[Manifest]:
    """Every object of the resources kustomization.yaml lists, in its order."""
    found = []
    for resource in load_yaml(KUSTOMIZATION)["resources"]:
        path = KUBERNETES_DIR / resource
        found += [Manifest(path, body) for body in yaml.safe_load_all(path.read_text()) if body]
    return found


def kubernetes_object(kind: str) -> dict[str, Any]:
    """The one object of `kind` in the manifests."""
    [body] = [m.body for m in kubernetes_manifests() if m.kind == kind]
    return body


@dataclass(frozen=True)
class EnvVar:
    """One entry of a container's `env`: a literal `value`, or a key of a Secret."""

    name: str
    value: str | None
    secret: str | None = None
    secret_key: str | None = None
    optional: bool = False


def container_env(container: dict[str, Any]) -> dict[str, EnvVar]:
    found = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        assert ref or "valueFrom" not in entry, f"{entry['name']}: only literal values and Secret keys are read"
        if ref:
            found[entry["name"]] = EnvVar(entry["name"], None, ref["name"], ref["key"], ref.get("optional", False))
        else:
            found[entry["name"]] = EnvVar(entry["name"], str(entry["value"]))
    return found
