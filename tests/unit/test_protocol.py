"""Request parsing and SSE framing."""

import pytest

from api.errors import InvalidRequestError
from api.protocol import parse_json_object, sse_data, validate_chat_request


@pytest.mark.parametrize("raw", [b"{", b"not json", b""])
def test_malformed_json_is_400_invalid_json(raw):
    with pytest.raises(InvalidRequestError) as caught:
        parse_json_object(raw)
    assert caught.value.code == "invalid_json"


def test_a_json_array_is_not_a_request():
    with pytest.raises(InvalidRequestError, match="JSON object"):
        parse_json_object(b"[1, 2]")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content.str"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes please"}, "stream"),
    ],
)
def test_schema_violations_name_the_field(body, param):
    with pytest.raises(InvalidRequestError) as caught:
        validate_chat_request(body)
    assert caught.value.code == "invalid_value"
    assert caught.value.param.startswith(param.split(".str")[0])


@pytest.mark.parametrize("value", ["yes", "true", "false", 1, 0, 1.0, [], {}])
def test_stream_must_be_a_json_boolean(value):
    with pytest.raises(InvalidRequestError) as caught:
        validate_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": value})
    assert (caught.value.status, caught.value.type, caught.value.param) == (400, "invalid_request_error", "stream")


@pytest.mark.parametrize(("value", "streams"), [(True, True), (False, False), (None, False)])
def test_stream_accepts_booleans_and_null(value, streams):
    request = validate_chat_request({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": value})
    assert bool(request.stream) is streams


def test_unknown_fields_and_content_parts_are_kept():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "data:x"}}],
            }
        ],
        "seed": 3,
        "brand_new_field": {"a": 1},
        "stream_options": {"include_usage": True},
    }
    request = validate_chat_request(body)
    assert request.model_extra == {"seed": 3, "brand_new_field": {"a": 1}}
    assert request.wants_usage is True


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


async def test_sse_data_splits_events_across_arbitrary_chunk_boundaries():
    stream = _chunks(b'data: {"a"', b':1}\n\n: keep-alive\n\nevent: x\ndata:{"b":2}\n', b"\ndata: [DONE]", b"\n\n")
    assert [payload async for payload in sse_data(stream)] == [b'{"a":1}', b'{"b":2}', b"[DONE]"]


async def test_sse_data_handles_crlf_and_a_missing_final_newline():
    stream = _chunks(b"data: 1\r\n\r\ndata: 2")
    assert [payload async for payload in sse_data(stream)] == [b"1", b"2"]


@pytest.mark.parametrize("role", ["system", "developer", "user", "tool"])
def test_a_message_without_content_is_a_400_naming_it(role):
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}, {"role": role}]}
    with pytest.raises(InvalidRequestError) as refused:
        validate_chat_request(body)
    assert refused.value.param == "messages[1]"
    assert f"a {role} message needs content" in refused.value.message


def test_an_assistant_tool_call_may_go_without_content_and_include_usage_must_be_a_boolean():
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [{"role": "user", "content": "x"}, {"role": "assistant", "content": None, "tool_calls": [call]}]
    assert validate_chat_request({"model": "m", "messages": messages})
    with pytest.raises(InvalidRequestError) as refused:
        validate_chat_request({"model": "m", "messages": messages[:1], "stream_options": {"include_usage": "yes"}})
    assert refused.value.param == "stream_options.include_usage"
