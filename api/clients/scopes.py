"""Scopes and what each route needs: pure values, no I/O."""

from __future__ import annotations

CHAT = "chat"
MODELS = "models"
TOOLS = "tools"
AUDIT_OWN = "audit:own"
AUDIT_ALL = "audit:all"
USAGE_OWN = "usage:own"
USAGE_ALL = "usage:all"
UPSTREAM_CONTROL = "upstream:control"

SCOPES = frozenset({CHAT, MODELS, TOOLS, AUDIT_OWN, AUDIT_ALL, USAGE_OWN, USAGE_ALL, UPSTREAM_CONTROL})
DEFAULT_SCOPES = frozenset({CHAT, MODELS, TOOLS, AUDIT_OWN, USAGE_OWN})
# With REQUIRE_AUTH=false every caller is the local developer: they see everything, but
# still cannot steer the shared LiteLLM key (upstream:control is always explicit).
ANONYMOUS_SCOPES = DEFAULT_SCOPES | {AUDIT_ALL, USAGE_ALL}

# The first path prefix that matches decides; any one of its scopes admits the request.
# Paths not listed (health, docs, metrics, unknown paths) need no scope beyond the token.
_ROUTE_SCOPES: tuple[tuple[str, frozenset[str]], ...] = (
    ("/v1/chat/completions", frozenset({CHAT})),
    ("/v1/models", frozenset({MODELS})),
    ("/v1/routes", frozenset({MODELS})),
    ("/v1/agents", frozenset({MODELS})),  # what orchestration can plan with, like /v1/routes
    ("/tools", frozenset({TOOLS})),
    ("/v1/audit", frozenset({AUDIT_OWN, AUDIT_ALL})),
    ("/v1/usage", frozenset({USAGE_OWN, USAGE_ALL})),
)


def scopes_for_path(path: str) -> frozenset[str] | None:
    """The scopes of which a request to `path` needs one; None when the path needs none."""
    for prefix, scopes in _ROUTE_SCOPES:
        if path == prefix or path.startswith(prefix + "/"):
            return scopes
    return None
