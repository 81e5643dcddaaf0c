"""Routing: which path serves a request, and why."""
