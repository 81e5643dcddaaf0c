"""Thin HTTP handlers; the work happens in routing/, paths/ and the services."""
