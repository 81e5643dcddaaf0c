"""Helpers that start real servers for the tests (fake upstream, LiteLLM, the gateway)."""
