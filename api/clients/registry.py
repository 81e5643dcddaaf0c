"""`config/clients.yaml` and `API_TOKENS` → the clients, checked once at start-up.

Tokens are named by reference only (`token_env: VAR` or `token_sha256: <hex>`), so the
file can be committed. Every mistake (an unknown scope, a duplicate name, an unset
variable, one token for two clients) stops the start with a message naming the client.
Lookups hash the presented token and find its client by digest: no token is ever kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from api.clients.model import BudgetPeriod, Client, Limits, client_id_for, token_digest
from api.clients.scopes import ANONYMOUS_SCOPES, DEFAULT_SCOPES, SCOPES

ANONYMOUS = "anonymous"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

PositiveInt = Annotated[int, Field(ge=1)]


class ClientsConfigError(ValueError):
    """The clients configuration cannot be used; the message names the client and the fix."""


class LimitsEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    requests_per_minute: PositiveInt | None = None
    tokens_per_minute: PositiveInt | None = None
    concurrent_requests: PositiveInt | None = None
    budget_usd: Annotated[float, Field(gt=0)] | None = None
    budget_period: BudgetPeriod = "month"


class ClientEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
    token_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    token_sha256: str | None = None
    scopes: list[str] | None = None
    paths: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    limits: LimitsEntry = Field(default_factory=LimitsEntry)

    @field_validator("token_sha256")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _SHA256_HEX.match(value.strip().lower()):
            raise ValueError('token_sha256 must be 64 hex digits: `printf %s "$TOKEN" | sha256sum`')
        return value.strip().lower() if value is not None else None

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: list[str] | None) -> list[str] | None:
        unknown = sorted(set(value or ()) - SCOPES)
        if unknown:
            raise ValueError(f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(SCOPES))}")
        return value

    @model_validator(mode="after")
    def _one_token(self) -> ClientEntry:
        if (self.token_env is None) == (self.token_sha256 is None):
            raise ValueError("give exactly one of token_env (a variable holding the token) or token_sha256")
        return self


class ClientsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    clients: list[ClientEntry] = Field(default_factory=list)


class ClientRegistry:
    """Every configured client, found by the digest of its token."""

    def __init__(self, entries: Iterable[tuple[str, Client]]) -> None:
        self._by_digest: dict[str, Client] = {}
        self._by_name: dict[str, Client] = {}
        owners: dict[str, str] = {}
        for digest, client in entries:
            if client.name in self._by_name:
                raise ClientsConfigError(f"clients: the name {client.name!r} is used twice; names must be unique")
            if digest in owners:
                raise ClientsConfigError(
                    f"clients: {owners[digest]!r} and {client.name!r} have the same token; give each its own"
                )
            owners[digest] = client.name
            self._by_digest[digest] = client
            self._by_name[client.name] = client
        self.anonymous = Client(ANONYMOUS, ANONYMOUS_SCOPES)

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def clients(self) -> list[Client]:
        return list(self._by_name.values())

    def by_token(self, token: str) -> Client | None:
        return self._by_digest.get(token_digest(token))

    def by_name(self, name: str) -> Client | None:
        return self._by_name.get(name)


def api_token_client(token: str) -> Client:
    """An `API_TOKENS` token as a client: `token-<8 hex>`, default scopes, no limits."""
    return Client(f"token-{client_id_for(token)[:8]}", DEFAULT_SCOPES)


def load_registry(path: Path | None, api_tokens: Iterable[str], environ: Mapping[str, str]) -> ClientRegistry:
    """The clients of the clients file at `path` (if any) and of `api_tokens`."""
    entries = [(token_digest(token), api_token_client(token)) for token in api_tokens]
    if path is not None:
        entries += [_resolve(entry, environ, path) for entry in _read(path).clients]
    return ClientRegistry(entries)


def _read(path: Path) -> ClientsFile:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ClientsConfigError(f"CLIENTS_CONFIG: cannot read {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ClientsConfigError(f"CLIENTS_CONFIG: {path} is not valid YAML: {exc}") from None
    try:
        return ClientsFile.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{_where(data, e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        raise ClientsConfigError(f"CLIENTS_CONFIG: {path}: {problems}") from None


def _where(data: object, loc: tuple[int | str, ...]) -> str:
    """`clients[2].limits.budget_usd` as `client 'billing': limits.budget_usd` where the name is known."""
    if len(loc) >= 2 and loc[0] == "clients" and isinstance(loc[1], int) and isinstance(data, dict):
        items = data.get("clients")
        entry = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        who = f"client {name!r}" if name else f"clients[{loc[1]}]"
        rest = ".".join(str(part) for part in loc[2:])
        return f"{who}: {rest}" if rest else who
    return ".".join(str(part) for part in loc) or "(top level)"


def _resolve(entry: ClientEntry, environ: Mapping[str, str], path: Path) -> tuple[str, Client]:
    if entry.token_env is not None:
        token = (environ.get(entry.token_env) or "").strip()
        if not token:
            raise ClientsConfigError(
                f"CLIENTS_CONFIG: {path}: client {entry.name!r} reads its token from {entry.token_env}, "
                "which is unset or empty: set it (environment or .env) or use token_sha256"
            )
        digest = token_digest(token)
    else:
        assert entry.token_sha256 is not None  # one of the two, checked by ClientEntry
        digest = entry.token_sha256
    client = Client(
        name=entry.name,
        scopes=frozenset(entry.scopes) if entry.scopes is not None else DEFAULT_SCOPES,
        paths=tuple(entry.paths),
        models=tuple(entry.models),
        limits=Limits(**entry.limits.model_dump()),
    )
    return digest, client
