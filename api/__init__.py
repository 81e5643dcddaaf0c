"""Reasoning Agent API: an OpenAI-compatible gateway with passthrough, reasoning and orchestration paths."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("reasoning-agent-api")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
