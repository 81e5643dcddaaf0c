"""The browser client: one static chat page and a thin proxy to the gateway's public API.

Run with `python -m web_client` (settings: `web_client/config.py`, `WEB_CLIENT_*`).
"""
