"""The audit trail: one row per `/v1/chat/completions` request, written off the request path."""
