"""Observability beside the request path: logs, Prometheus metrics, OpenTelemetry traces."""
