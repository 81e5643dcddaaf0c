"""LiteLLM's Phoenix callback, minus the figures the gateway's own LLM span already carries.

Loaded by the LiteLLM proxy, not by the gateway: `litellm_settings.callbacks:
["litellm_phoenix.phoenix_logger"]` in config/litellm*_config.yaml (LiteLLM imports it from
the config file's directory, or from PYTHONPATH). It is LiteLLM's own `arize_phoenix` callback
(same endpoint, project and span tree, `litellm_proxy_request` > `litellm_request` under the
gateway's LLM span), with three kinds of attributes left off its spans:

- `llm.token_count.*` and `llm.cost.*` / `llm.response.cost`: LiteLLM 1.106 sets them on both
  of its spans, unconditionally (`integrations/arize/_utils.py` `_set_usage_outputs`,
  `_set_response_cost_attr`; no setting turns them off, in the legacy callback or in
  `LITELLM_OTEL_V2`'s OpenInference mapper). Phoenix sums token counts over every LLM span of a
  trace and prices each one, so a call showed three times its tokens and cost. The gateway's
  LLM span owns them (ARCHITECTURE.md, Tracing): it sees every call, traced by LiteLLM or not.
- `user.id`: LiteLLM falls back to the key's owner (`default_user_id` for the master key),
  which is not the user; the gateway's request span names its client.

Everything else (messages, model, provider, invocation parameters, metadata) stays.
"""

from __future__ import annotations

import os
from typing import Any

from litellm.integrations.arize.arize_phoenix import ArizePhoenixLogger
from litellm.integrations.opentelemetry import OpenTelemetryConfig

#: Attribute names (or prefixes ending in ".") the gateway's spans own.
OWNED_BY_GATEWAY = ("llm.token_count.", "llm.cost.", "llm.response.cost", "user.id")


def owned_by_gateway(key: str) -> bool:
    return any(key == name or (name.endswith(".") and key.startswith(name)) for name in OWNED_BY_GATEWAY)


class _WithoutGatewayFigures:
    """A span as LiteLLM's attribute setters see it: `set_attribute` skips the gateway's keys."""

    def __init__(self, span: Any) -> None:
        self._span = span

    def set_attribute(self, key: str, value: Any) -> None:
        if not owned_by_gateway(key):
            self._span.set_attribute(key, value)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self._span.set_attributes({k: v for k, v in attributes.items() if not owned_by_gateway(k)})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)


class GatewayPhoenixLogger(ArizePhoenixLogger):
    def set_attributes(self, span: Any, kwargs: Any, response_obj: Any | None) -> None:
        super().set_attributes(_WithoutGatewayFigures(span), kwargs, response_obj)


def _logger() -> GatewayPhoenixLogger:
    # As LiteLLM builds its `arize_phoenix` callback (litellm_logging.py), from the same variables.
    config = ArizePhoenixLogger.get_arize_phoenix_config()
    if config.otlp_auth_headers is not None:
        os.environ["OTEL_EXPORTER_OTLP_TRACES_HEADERS"] = config.otlp_auth_headers
    otel = OpenTelemetryConfig(exporter=config.protocol, endpoint=config.endpoint, headers=config.otlp_auth_headers)
    return GatewayPhoenixLogger(config=otel, callback_name="arize_phoenix")


phoenix_logger = _logger()
