"""End-to-end tests: the whole stack with a real Phoenix (make test-e2e)."""
