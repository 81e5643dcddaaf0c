"""One error shape, rendered as JSON or as a final SSE event (contract section 5)."""

import orjson
import pytest

from api.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequestError,
    NotImplementedPathError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    UpstreamConfigError,
    UpstreamError,
    UpstreamTimeoutError,
    error_event_payload,
    error_response,
)


@pytest.mark.parametrize(
    ("error", "status", "error_type", "should_retry_header"),
    [
        (InvalidRequestError("x"), 400, "invalid_request_error", None),
        (AuthenticationError("x"), 401, "authentication_error", None),
        (RequestTooLargeError("x"), 413, "invalid_request_error", None),
        (RateLimitError("x"), 429, "rate_limit_error", None),
        (NotImplementedPathError("x"), 501, "not_implemented", "false"),
        (UpstreamError("x"), 502, "upstream_error", None),
        (UpstreamConfigError("x"), 502, "upstream_error", "false"),
        (ServiceUnavailableError("x"), 503, "service_unavailable", None),
        (UpstreamTimeoutError("x"), 504, "upstream_timeout", None),
        (GatewayError("x"), 500, "server_error", "false"),
    ],
)
def test_status_type_and_retry_hint(error, status, error_type, should_retry_header):
    response = error_response(error)
    body = orjson.loads(response.body)
    assert response.status_code == status
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["type"] == error_type
    assert response.headers.get("x-should-retry") == should_retry_header


def test_error_headers_are_sent():
    response = error_response(RateLimitError("slow", headers={"retry-after": "7"}))
    assert response.headers["retry-after"] == "7"


def test_stream_event_has_the_same_shape():
    error = UpstreamError("it broke", code="upstream_stream_error")
    assert orjson.loads(error_event_payload(error)) == {
        "error": {"message": "it broke", "type": "upstream_error", "param": None, "code": "upstream_stream_error"}
    }
