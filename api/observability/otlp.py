"""Where spans go: the OTLP/HTTP (protobuf) exporter to Phoenix or another collector.

Kept apart from the rest of the gateway (nothing here imports `api`'s other modules): the
span export process (api/observability/export_process.py) imports only this, so it stays
a small process.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

TRACES_PATH = "/v1/traces"
#: One export attempt (with the exporter's own retries) gives up after this long.
EXPORT_TIMEOUT_SECONDS = 5.0


def traces_url(endpoint: str) -> str:
    """`http://host:6006` → `http://host:6006/v1/traces`; a full traces URL is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def otlp_exporter(endpoint: str, api_key: str | None) -> OTLPSpanExporter:
    """The OTLP/HTTP (protobuf) exporter for `endpoint`, authenticated when a key is given."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else None
    return OTLPSpanExporter(endpoint=traces_url(endpoint), headers=headers, timeout=EXPORT_TIMEOUT_SECONDS)
