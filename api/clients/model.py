"""A resolved client as a plain value: its name, scopes, allow-lists and limits."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

BudgetPeriod = Literal["day", "month"]


def token_digest(token: str) -> str:
    """sha256 (hex) of a bearer token: how clients.yaml names a token without holding it."""
    return hashlib.sha256(token.encode()).hexdigest()


def client_id_for(token: str) -> str:
    """A short, stable, non-reversible id of a bearer token for audit rows and logs."""
    return token_digest(token)[:16]


@dataclass(frozen=True, slots=True)
class Limits:
    """A client's limits; None means unlimited."""

    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    concurrent_requests: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod = "month"

    @property
    def any(self) -> bool:
        return any(
            value is not None
            for value in (self.requests_per_minute, self.tokens_per_minute, self.concurrent_requests, self.budget_usd)
        )


@dataclass(frozen=True, slots=True)
class Client:
    """Who is calling. `paths` and `models` are glob allow-lists; empty means all."""

    name: str
    scopes: frozenset[str]
    paths: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def has_any(self, scopes: frozenset[str]) -> bool:
        return not self.scopes.isdisjoint(scopes)

    def rows_of(self, all_scope: str) -> str | None:
        """Whose audit rows this client reads: everyone's (None) with `all_scope`, else its own name."""
        return None if self.has(all_scope) else self.name

    def allows_path(self, path: str) -> bool:
        return not self.paths or any(fnmatchcase(path, pattern) for pattern in self.paths)

    def allows_model(self, model: str) -> bool:
        return not self.models or any(fnmatchcase(model, pattern) for pattern in self.models)
