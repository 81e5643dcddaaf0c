"""`config/routing_policy.yaml` (`ROUTING_POLICY_CONFIG`) → rules, checked when the gateway starts.

    rules:
      - name: sensitive_local            # reason code policy_sensitive_local
        when:
          terms: [patient, diagnosis]     # whole words, any case
          terms_file: sensitive_terms.txt # one term per line, relative to this file
          patterns: ['\\b\\d{3}-\\d{2}-\\d{4}\\b']
          min_prompt_tokens: 20000        # estimated: text characters / 4
          min_estimated_cost_usd: 0.05    # the prompt at the requested model's input price
          clients: [web-client]
          models: [gpt-4o]
        action: use_model                 # or refuse (message: ...) or allow
        model: local-llama

A file that does not parse, a rule without a name, two rules with one name, a `use_model`
without a model or a pattern that does not compile stops the start-up naming the rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api.policy.rules import Action, Conditions, Rule, distinct_terms, terms_pattern


class RoutingPolicyError(ValueError):
    """The policy file is wrong; the message says where."""


class _When(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(default_factory=list)
    terms_file: str | None = None
    patterns: list[str] = Field(default_factory=list)
    min_prompt_tokens: int | None = Field(None, ge=0)
    min_estimated_cost_usd: float | None = Field(None, ge=0)
    clients: list[str] | None = None
    models: list[str] | None = None


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9_]{1,48}$")
    when: _When = Field(default_factory=_When)
    action: Action
    model: str | None = None
    message: str | None = None

    @model_validator(mode="after")
    def _model_for_use_model(self) -> _Rule:
        if self.action == "use_model" and not self.model:
            raise ValueError("action use_model needs a model")
        if self.action != "use_model" and self.model:
            raise ValueError(f"action {self.action} takes no model")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[_Rule] = Field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RoutingPolicyConfig:
    """The rules in order, and the file they came from (None: no policy)."""

    rules: tuple[Rule, ...] = ()
    source: Path | None = None

    @property
    def models(self) -> set[str]:
        """The models the rules send requests to (each must be one LiteLLM serves)."""
        return {rule.model for rule in self.rules if rule.model}


def load_routing_policy(path: Path | None) -> RoutingPolicyConfig:
    if path is None:
        return RoutingPolicyConfig()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RoutingPolicyError(f"{path}: cannot read the routing policy: {exc}") from exc
    try:
        parsed = _File.model_validate(raw)
    except ValidationError as exc:
        raise RoutingPolicyError(f"{path}: {_where(raw, exc)}") from exc
    seen: set[str] = set()
    rules = []
    for entry in parsed.rules:
        if entry.name in seen:
            raise RoutingPolicyError(f"{path}: two rules are named {entry.name!r}")
        seen.add(entry.name)
        rules.append(_rule(path, entry))
    return RoutingPolicyConfig(tuple(rules), path)


def _rule(path: Path, entry: _Rule) -> Rule:
    where = f"{path}: rule {entry.name!r}"
    terms = list(entry.when.terms)
    if entry.when.terms_file is not None:
        terms_path = (path.parent / entry.when.terms_file).resolve()
        try:
            lines = terms_path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise RoutingPolicyError(f"{where}: cannot read terms_file {terms_path}: {exc}") from exc
        terms += [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    try:
        patterns = tuple(re.compile(pattern, re.IGNORECASE) for pattern in entry.when.patterns)
    except re.error as exc:
        raise RoutingPolicyError(f"{where}: a pattern does not compile: {exc}") from exc
    words = distinct_terms(terms)
    when = Conditions(
        terms=terms_pattern(words),
        words=words,
        patterns=patterns,
        min_prompt_tokens=entry.when.min_prompt_tokens,
        min_estimated_cost_usd=entry.when.min_estimated_cost_usd,
        clients=frozenset(entry.when.clients) if entry.when.clients is not None else None,
        models=frozenset(entry.when.models) if entry.when.models is not None else None,
    )
    return Rule(entry.name, when, entry.action, entry.model, entry.message)


def _where(raw: Any, exc: ValidationError) -> str:
    """The first error, naming the rule by its name when it has one."""
    error = exc.errors()[0]
    error["msg"] = error["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own
    location = list(error["loc"])
    if len(location) >= 2 and location[0] == "rules" and isinstance(location[1], int):
        index = location[1]
        rules = raw.get("rules") if isinstance(raw, dict) else None
        name = rules[index].get("name") if isinstance(rules, list) and isinstance(rules[index], dict) else None
        label = f"rule {name!r}" if name else f"rule #{index + 1}"
        field = ".".join(str(part) for part in location[2:])
        return f"{label}: {field + ': ' if field else ''}{error['msg']}"
    return f"{'.'.join(str(part) for part in location)}: {error['msg']}"


def policy_view(policy: RoutingPolicyConfig, *, reveal_terms: bool) -> dict[str, Any]:
    """What `GET /v1/routes` shows of the policy: the terms only to `audit:all` callers."""
    rules = []
    for rule in policy.rules:
        when = rule.when
        shown: dict[str, Any] = {}
        if when.terms is not None:
            shown["terms"] = list(when.words) if reveal_terms else f"{len(when.words)} term(s), hidden"
        if when.patterns:
            shown["patterns"] = (
                [p.pattern for p in when.patterns] if reveal_terms else f"{len(when.patterns)} pattern(s), hidden"
            )
        for field in ("min_prompt_tokens", "min_estimated_cost_usd"):
            if (value := getattr(when, field)) is not None:
                shown[field] = value
        for field in ("clients", "models"):
            if (value := getattr(when, field)) is not None:
                shown[field] = sorted(value)
        entry: dict[str, Any] = {"name": rule.name, "reason": rule.reason, "when": shown, "action": rule.action}
        if rule.model:
            entry["model"] = rule.model
        rules.append(entry)
    return {"config": str(policy.source) if policy.source else None, "first_match_wins": True, "rules": rules}
