"""Names the public contract fixes (docs: contract section 8), for the tests that check them."""

#: Every metric of contract section 8, as a scraper sees it.
CONTRACT_METRICS = (
    "gateway_requests_total",
    "gateway_request_duration_seconds",
    "gateway_time_to_first_token_seconds",
    "gateway_overhead_seconds",
    "gateway_in_flight_requests",
    "gateway_tokens_total",
    "routing_decisions_total",
    "reasoning_steps",
    "tool_calls_total",
    "tool_call_duration_seconds",
    "mcp_server_up",
    "audit_queue_depth",
    "audit_rows_written_total",
    "audit_rows_spilled_total",
    # section 13: bounded everywhere, losses counted
    "audit_rows_dropped_total",
    "audit_journal_bytes",
    # section 10: cost per client and upstream model
    "gateway_cost_usd_total",
    # section 11: what LiteLLM did
    "gateway_upstream_fallbacks_total",
    "gateway_upstream_retries_total",
    "gateway_upstream_cache_hits_total",
)
