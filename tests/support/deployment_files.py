"""Readers for the deployment files (compose, Dockerfile, .dockerignore, env examples, README).

There is no Docker engine on the build machines, so the tests read these files the way
Docker and compose would and check what they promise: what runs, where it connects,
which variables and ports it uses.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.support.processes import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_DEV_FILE = REPO / "docker-compose.dev.yml"
ENV_EXAMPLES = (REPO / ".env.dev.example", REPO / ".env.prod.example")

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


# ---- README --------------------------------------------------------------------------------------


def markdown_section(text: str, heading: str) -> str:
    """The body of the section titled `heading`, up to the next heading of the same level or above."""
    match = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    if not match:
        raise AssertionError(f"no section {heading!r}")
    level = len(match.group(1))
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{level}}} ", rest, re.M)
    return rest[: end.start()] if end else rest


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
