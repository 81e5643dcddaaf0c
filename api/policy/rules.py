"""Policy routing's rules and their evaluation: pure values, no I/O, no clock, no randomness.

A rule matches when every condition it states holds (a rule that states none matches
everything: a catch-all); its terms and patterns are one condition, met when any of them
occurs in the conversation. The first rule that matches decides:

    use_model  every LLM call of the request goes to `model` (the classifier's too)
    refuse     403 `policy_refused`, naming the rule (never the text that matched)
    allow      the request goes on unchanged; the rule is still recorded

Terms are matched case-insensitively on word boundaries (`patient` matches "Patient's"
but not "outpatients"); patterns are regular expressions, also case-insensitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Action = Literal["use_model", "refuse", "allow"]
ACTIONS: tuple[Action, ...] = ("use_model", "refuse", "allow")


@dataclass(frozen=True, slots=True)
class Conditions:
    """What a rule looks at; None (or empty) means "any"."""

    terms: re.Pattern[str] | None = None  # built from `words` by terms_pattern
    words: tuple[str, ...] = ()
    patterns: tuple[re.Pattern[str], ...] = ()
    min_prompt_tokens: int | None = None
    min_estimated_cost_usd: float | None = None
    clients: frozenset[str] | None = None
    models: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    when: Conditions
    action: Action
    model: str | None = None  # use_model only
    message: str | None = None  # refuse only: what the client is told (the rule is named too)

    @property
    def reason(self) -> str:
        return f"policy_{self.name}"


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """The facts of one request a rule can look at."""

    text: str
    prompt_tokens: int
    estimated_cost_usd: float | None  # None: the price table does not know the model
    client: str
    model: str  # the model the client asked for, without a reasoning/ or auto/ prefix


def distinct_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """The terms trimmed, without blanks or repeats (any case), longest first: a stable order."""
    unique = {term.strip().lower(): term.strip() for term in terms if term.strip()}
    return tuple(sorted(unique.values(), key=lambda t: (-len(t), t.lower())))


def terms_pattern(words: Sequence[str]) -> re.Pattern[str] | None:
    """One case-insensitive pattern matching any of `words` as whole words (None for none)."""
    if not words:
        return None
    # \b only applies next to word characters: a term like "c++" is bounded by a non-word check.
    alternatives = "|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in words)
    return re.compile(alternatives, re.IGNORECASE)


def matches(when: Conditions, facts: PolicyInput) -> bool:
    if when.clients is not None and facts.client not in when.clients:
        return False
    if when.models is not None and facts.model not in when.models:
        return False
    if when.min_prompt_tokens is not None and facts.prompt_tokens < when.min_prompt_tokens:
        return False
    if when.min_estimated_cost_usd is not None and (
        facts.estimated_cost_usd is None or facts.estimated_cost_usd < when.min_estimated_cost_usd
    ):
        return False
    if when.terms is None and not when.patterns:
        return True
    if when.terms is not None and when.terms.search(facts.text) is not None:
        return True
    return any(pattern.search(facts.text) is not None for pattern in when.patterns)


def evaluate(rules: Sequence[Rule], facts: PolicyInput) -> Rule | None:
    """The first rule that matches `facts`, or None when none does."""
    for rule in rules:
        if matches(rule.when, facts):
            return rule
    return None


def conversation_text(messages: Sequence[Any]) -> str:
    """Every text the conversation holds, one message per line (images and audio carry none)."""
    lines: list[str] = []
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        content = message.get("content")
        if isinstance(content, str):
            lines.append(content)
        elif isinstance(content, list):
            lines.extend(
                part["text"]
                for part in content
                if isinstance(part, Mapping) and part.get("type") == "text" and isinstance(part.get("text"), str)
            )
        for call in message.get("tool_calls") or ():
            if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping):
                lines.append(str(call["function"].get("arguments") or ""))
    return "\n".join(lines)
