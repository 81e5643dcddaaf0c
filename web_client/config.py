"""Settings of the web client: the only reader of its environment (`WEB_CLIENT_*`, and `.env`).

Separate from the gateway's `api.config.Settings`: the web client is a client of the
gateway, deployed beside it, and needs none of the gateway's configuration.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """Whether listening on `host` keeps the web client on this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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
    password: SecretStr = Field(
        SecretStr(""), repr=False, description="the password of the login (POST /api/login); required unless open"
    )
    open: bool = Field(False, description="no login at all; allowed only when `host` is loopback")
    session_secret: SecretStr = Field(
        SecretStr(""),
        repr=False,
        description="key that signs the session cookie; empty: a random one per start (a restart logs everyone out)",
    )
    session_max_age: int = Field(8 * 3600, gt=0, description="seconds a login lasts")
    login_attempts_per_minute: int = Field(
        5, ge=1, description="failed logins one address may make per minute; then 429 until the minute frees one"
    )
    cookie_secure: bool = Field(
        False, description="mark the session cookie Secure (set it when users reach the page over HTTPS)"
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        ["localhost", "127.0.0.1"],
        description="Host header values accepted (comma-separated; `*.example.com` allowed); others are refused",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @model_validator(mode="after")
    def _login_or_loopback(self) -> Self:
        # No login in front of a server that holds a gateway token makes it an open relay: refuse to start.
        if self.open and not is_loopback(self.host):
            raise ValueError(
                f"WEB_CLIENT_OPEN=true is allowed only on loopback, but WEB_CLIENT_HOST is {self.host!r}: "
                "set WEB_CLIENT_PASSWORD and WEB_CLIENT_OPEN=false"
            )
        if self.open and self.password.get_secret_value():
            raise ValueError("WEB_CLIENT_OPEN=true and WEB_CLIENT_PASSWORD are both set: choose one")
        if not self.open and not self.password.get_secret_value():
            raise ValueError(
                "WEB_CLIENT_PASSWORD is empty: set it (users log in with it), "
                "or WEB_CLIENT_OPEN=true to run without a login on loopback"
            )
        return self

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
