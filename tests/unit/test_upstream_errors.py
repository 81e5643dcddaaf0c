"""Upstream failures as the client sees them (contract section 5)."""

import asyncio

import aiohttp
import httpx2
import openai
import pytest

from api.errors import (
    NotFoundError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConfigError,
    UpstreamError,
    UpstreamRejectedError,
    UpstreamTimeoutError,
)
from api.upstream.errors import from_error_event, from_status, translate_exception, translate_stream_exception

URL = "http://litellm:4000"


def litellm_error(message, error_type, code):
    return {"message": message, "type": error_type, "param": None, "code": code}


def test_rate_limit_keeps_retry_after_from_either_header():
    direct = from_status(429, litellm_error("slow down", "rate_limit_error", "429"), {"retry-after": "3"})
    via_litellm = from_status(
        429, litellm_error("slow down", "throttling_error", "429"), {"llm_provider-retry-after": "7"}
    )
    assert isinstance(direct, RateLimitError)
    assert direct.headers == {"retry-after": "3"}
    assert via_litellm.headers == {"retry-after": "7"}
    assert via_litellm.status_code == 429
    assert via_litellm.error_type == "rate_limit_error"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            litellm_error(
                "litellm.BadRequestError: There are no healthy deployments for this model",
                "invalid_request_error",
                "400",
            ),
        ),
        (400, litellm_error("Invalid model name passed in model=x", "invalid_request_error", "400")),
        (404, litellm_error("The model `x` does not exist", "invalid_request_error", "model_not_found")),
    ],
)
def test_unknown_model_is_404_model_not_found(status, body):
    error = from_status(status, body, {})
    assert isinstance(error, NotFoundError)
    assert (error.status_code, error.code, error.param) == (404, "model_not_found", "model")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, litellm_error("Incorrect API key provided", "authentication_error", "401")),
        (403, litellm_error("forbidden", "permission_error", "403")),
        (400, litellm_error("No connected db.", "no_db_connection", "400")),  # LiteLLM: wrong master key
    ],
)
def test_upstream_refusing_the_gateway_is_a_permanent_502_naming_the_key(status, body):
    error = from_status(status, body, {})
    assert isinstance(error, UpstreamConfigError)
    assert error.status_code == 502
    assert not error.retryable
    assert "LLM_API_KEY" in error.message


def test_missing_provider_key_names_openai_api_key():
    message = "litellm.InternalServerError: OpenAIException - Missing credentials. Please pass an `api_key`"
    error = from_status(500, litellm_error(message, "internal_server_error", "500"), {})
    assert isinstance(error, UpstreamConfigError)
    assert "OPENAI_API_KEY" in error.message


@pytest.mark.parametrize("status", [500, 502, 503, 529])
def test_upstream_5xx_is_a_retryable_502(status):
    error = from_status(status, litellm_error("boom", "internal_server_error", str(status)), {})
    assert type(error) is UpstreamError
    assert (error.status_code, error.error_type, error.retryable) == (502, "upstream_error", True)
    assert "boom" in error.message


def test_other_openai_shaped_4xx_pass_through_with_their_status():
    error = from_status(422, {"message": "bad field", "type": "invalid_request_error", "param": "n", "code": "bad"}, {})
    assert isinstance(error, UpstreamRejectedError)
    assert error.payload() == {
        "error": {"message": "bad field", "type": "invalid_request_error", "param": "n", "code": "bad"}
    }
    assert error.status_code == 422


def test_non_json_error_bodies_still_produce_a_message():
    error = from_status(500, "Internal Server Error", {})
    assert "Internal Server Error" in error.message


def test_error_event_inside_a_stream():
    error = from_error_event({"error": {"message": "provider hung up", "type": None, "code": "500"}})
    assert isinstance(error, UpstreamError)
    assert error.code == "upstream_stream_error"
    assert "provider hung up" in error.message


def _chained(outer: BaseException, *causes: BaseException) -> BaseException:
    current = outer
    for cause in causes:
        current.__cause__ = cause
        current = cause
    return outer


REQUEST = httpx2.Request("POST", URL)


def test_timeouts_become_504():
    exc = _chained(openai.APITimeoutError(REQUEST), httpx2.ReadTimeout("slow"))
    assert isinstance(translate_exception(exc), UpstreamTimeoutError)
    assert isinstance(translate_exception(httpx2.ReadTimeout("slow")), UpstreamTimeoutError)


def test_refused_connection_is_502_even_when_the_aiohttp_transport_calls_it_a_timeout():
    import aiohttp

    refused = aiohttp.ClientConnectorError.__new__(aiohttp.ClientConnectorError)
    Exception.__init__(refused, "Cannot connect to host")
    exc = _chained(
        openai.APITimeoutError(REQUEST),
        httpx2.ConnectTimeout("Cannot connect"),
        refused,
        ConnectionRefusedError(111, "refused"),
    )
    error = translate_exception(exc)
    assert type(error) is UpstreamError
    assert error.code == "upstream_unreachable"
    assert "Cannot connect" not in error.message  # the host it names stays in the log


def test_aiohttp_socket_timeout_is_504():
    import aiohttp

    exc = _chained(
        httpx2.ReadTimeout("Timeout on reading"), aiohttp.SocketTimeoutError("Timeout on reading data from socket")
    )
    assert isinstance(translate_exception(exc), UpstreamTimeoutError)


def test_broken_stream_is_502():
    error = translate_exception(httpx2.ReadError("payload not completed"))
    assert type(error) is UpstreamError


# ---- overload and broken streams ---------------------------------------------------------


def test_a_full_pool_is_503_overloaded_with_retry_after_not_a_timeout():
    exc = _chained(
        openai.APITimeoutError(REQUEST),
        httpx2.PoolTimeout("all 5 upstream connections stayed busy"),
        TimeoutError(),
        asyncio.CancelledError(),  # how the wait for a slot ended, not what the client should read
    )
    error = translate_exception(exc)
    assert "all 5 upstream connections stayed busy" in error.message
    assert isinstance(error, ServiceUnavailableError)
    assert (error.status_code, error.error_type, error.code) == (503, "service_unavailable", "overloaded")
    assert error.headers == {"retry-after": "1"}
    assert error.retryable
    assert URL not in error.message


@pytest.mark.parametrize(
    "exc",
    [
        httpx2.ReadError("payload not completed"),
        httpx2.RemoteProtocolError("peer closed connection without sending complete message body"),
        _chained(httpx2.ReadError("x"), aiohttp.ClientPayloadError("Response payload is not completed")),
    ],
)
def test_a_stream_cut_after_it_started_is_upstream_stream_error(exc):
    error = translate_stream_exception(exc)
    assert (error.status_code, error.code) == (502, "upstream_stream_error")
    assert "broke after it started" in error.message


def test_an_error_event_read_by_the_sdk_is_upstream_stream_error_with_its_message():
    exc = openai.APIError("provider hung up", REQUEST, body={"message": "provider hung up", "type": None})
    error = translate_stream_exception(exc)
    assert error.code == "upstream_stream_error"
    assert "provider hung up" in error.message


def test_a_stream_that_stalls_stays_a_timeout():
    error = translate_stream_exception(httpx2.ReadTimeout("no chunk"))
    assert isinstance(error, UpstreamTimeoutError)


def test_gateway_errors_raised_inside_a_stream_are_kept():
    own = UpstreamError("The upstream stream ended without [DONE].", code="upstream_stream_error")
    assert translate_stream_exception(own) is own


# ---- no internals in error bodies (contract section 10) ------------------------------------


def test_upstream_messages_lose_their_urls_and_keys():
    body = {"message": f"litellm.APIError: call to {URL}/v1/chat/completions failed with key sk-abc123456789"}
    error = from_status(500, body, {})
    assert URL not in error.message
    assert "sk-abc123456789" not in error.message
    assert "<url>" in error.message
    assert "sk-***" in error.message
    event = from_error_event({"error": {"message": f"provider at https://api.example.com/v1 hung up ({URL})"}})
    assert "example.com" not in event.message
    assert URL not in event.message
