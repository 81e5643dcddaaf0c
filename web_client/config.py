"""Settings of the web client: the only reader of its environment (`WEB_CLIENT_*`, and `.env`).

Separate from the gateway's `api.config.Settings`: the web client is a client of the
gateway, deployed beside it, and needs none of the gateway's configuration.
"""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class WebClientSettings(BaseSettings):
    """Field `foo` is read from env var `WEB_CLIENT_FOO`."""

    model_config = SettingsConfigDict(
        env_prefix="WEB_CLIENT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    gateway_url: str = Field("http://localhost:8000", description="the gateway's base URL (without /v1)")
    api_token: SecretStr = Field(
        SecretStr(""),
        repr=False,
        description="bearer token the server sends to the gateway; never sent to the browser",
    )
    phoenix_url: str = Field("", description="Phoenix UI base URL for per-answer trace links; empty: no links")
    read_timeout: float = Field(
        300.0, gt=0, description="max wait in seconds for each byte from the gateway (reasoning steps can be slow)"
    )
    host: str = Field("127.0.0.1", description="interface to listen on (0.0.0.0 in a container)")
    port: int = Field(8080, ge=1, le=65535)

    @field_validator("gateway_url", "phoenix_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, got {value!r}")
        return value

    @field_validator("gateway_url")
    @classmethod
    def _gateway_required(cls, value: str) -> str:
        if not value:
            raise ValueError("WEB_CLIENT_GATEWAY_URL is empty: set it to the gateway's URL, e.g. http://localhost:8000")
        return value
