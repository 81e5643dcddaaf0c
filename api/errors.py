"""The gateway's one error vocabulary, and the one way it is rendered.

Every failure a client can see is a `GatewayError` carrying its HTTP status and the
OpenAI error `type`/`code`. Foreign exceptions (openai, pydantic, MCP, SQLAlchemy) are
translated into this hierarchy at their boundary; handlers and paths only raise these.

    GatewayError                   500 server_error              (a bug: never retried)
    ├── InvalidRequestError        400 invalid_request_error
    │   ├── NotFoundError          404 invalid_request_error     model_not_found / not_found
    │   └── RequestTooLargeError   413 invalid_request_error     request_too_large
    ├── AuthenticationError        401 authentication_error      invalid_api_key
    ├── RateLimitError             429 rate_limit_error          (Retry-After forwarded)
    ├── NotImplementedPathError    501 not_implemented           orchestration_not_implemented, ...
    ├── UpstreamError              502 upstream_error            (transient: retried by SDKs)
    │   └── UpstreamConfigError    502 upstream_error            the gateway's upstream set-up is wrong
    ├── ServiceUnavailableError    503 service_unavailable
    ├── UpstreamTimeoutError       504 upstream_timeout
    └── StatusError                any status, per instance      (the framework's 404/405)
        └── UpstreamRejectedError  4xx as the upstream said      (an OpenAI-shaped upstream 4xx)

The same payload is rendered three ways: a JSON response (`error_response`), the body
of a mid-stream SSE event (`error_event_payload`), and a log/audit `error_type`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import orjson
from starlette.responses import Response


class GatewayError(Exception):
    """Base class: an error a client sees, with its status and OpenAI type/code."""

    status: ClassVar[int] = 500
    type: ClassVar[str] = "server_error"
    default_code: ClassVar[str | None] = "internal_error"
    #: False when a retry cannot help; the OpenAI SDKs retry every 5xx (and 408/409/429)
    #: unless the response says `x-should-retry: false`.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.param = param
        self.headers = headers or {}

    @property
    def status_code(self) -> int:
        return self.status

    @property
    def error_type(self) -> str:
        return self.type

    def payload(self) -> dict[str, Any]:
        """The OpenAI error object: `{"error": {message, type, param, code}}`."""
        return {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }


class InvalidRequestError(GatewayError):
    status = 400
    type = "invalid_request_error"
    default_code = "invalid_request"


class NotFoundError(InvalidRequestError):
    status = 404
    default_code = "not_found"


class RequestTooLargeError(InvalidRequestError):
    status = 413
    default_code = "request_too_large"


class AuthenticationError(GatewayError):
    status = 401
    type = "authentication_error"
    default_code = "invalid_api_key"


class PermissionDeniedError(GatewayError):
    """The client is known but lacks the scope, path or model it asked for (contract section 10)."""

    status = 403
    type = "permission_error"
    default_code = "scope_missing"


class RateLimitError(GatewayError):
    status = 429
    type = "rate_limit_error"
    default_code = "rate_limit_exceeded"
    retryable = True


class QuotaExceededError(GatewayError):
    """The client's budget for the period is spent: retrying before the period ends cannot help."""

    status = 429
    type = "insufficient_quota"
    default_code = "budget_exceeded"


class NotImplementedPathError(GatewayError):
    status = 501
    type = "not_implemented"
    default_code = "not_implemented"


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    default_code = "upstream_error"
    retryable = True


class UpstreamConfigError(UpstreamError):
    """The upstream refuses the gateway itself (a key is missing or wrong): retrying cannot fix it."""

    default_code = "upstream_auth_error"
    retryable = False


class ServiceUnavailableError(GatewayError):
    status = 503
    type = "service_unavailable"
    default_code = "service_unavailable"
    retryable = True


class UpstreamTimeoutError(GatewayError):
    status = 504
    type = "upstream_timeout"
    default_code = "upstream_timeout"
    retryable = True


class StatusError(GatewayError):
    """An error whose status and type are chosen per instance (the framework's 404/405)."""

    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        code: str | None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message, code=code, param=param, headers=headers)
        self._status = status
        self._type = error_type

    @property
    def status_code(self) -> int:
        return self._status

    @property
    def error_type(self) -> str:
        return self._type


class UpstreamRejectedError(StatusError):
    """An OpenAI-shaped 4xx from the upstream, passed through with its own status/type."""


def response_headers(error: GatewayError) -> dict[str, str]:
    """Headers of an error answer: the error's own plus `x-should-retry: false` when permanent."""
    headers = dict(error.headers)
    if error.status_code >= 500 and not error.retryable:
        headers["x-should-retry"] = "false"
    return headers


def error_response(error: GatewayError) -> Response:
    """The JSON answer for an error raised before any byte of the response was sent."""
    return Response(
        orjson.dumps(error.payload()),
        status_code=error.status_code,
        media_type="application/json",
        headers=response_headers(error),
    )


def error_event_payload(error: GatewayError) -> bytes:
    """The JSON of the final `data: {"error": ...}` event of a stream that failed mid-way."""
    return orjson.dumps(error.payload())


def internal_error() -> GatewayError:
    """What a client sees for a bug: no details leak, the logs have the traceback."""
    return GatewayError("The gateway hit an internal error; the request id identifies it in the logs.")
