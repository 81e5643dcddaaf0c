"""OpenInference attributes as plain values: content only when allowed."""

import json

import orjson

from api.observability.openinference import (
    answer_attributes,
    llm_request_attributes,
    message_attributes,
    output_attributes,
    response_message,
    stream_message,
    stream_text,
    tool_attributes,
    usage_attributes,
)

REQUEST = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": [{"type": "text", "text": "what is"}, {"type": "image_url", "image_url": {}}]},
    ],
    "temperature": 0,
    "tools": [{"type": "function"}],
    "metadata": {"component": "passthrough"},
}


def test_llm_request_attributes_with_content():
    attributes = llm_request_attributes(REQUEST, {"component": "passthrough"}, include_content=True)
    assert attributes["openinference.span.kind"] == "LLM"
    assert attributes["llm.model_name"] == "gpt-4o"
    # Parameters exclude content (messages, tools) and our own metadata.
    assert json.loads(attributes["llm.invocation_parameters"]) == {"model": "gpt-4o", "temperature": 0}
    assert json.loads(attributes["metadata"]) == {"component": "passthrough"}
    assert "metadata" not in json.loads(attributes["input.value"])
    assert attributes["input.mime_type"] == "application/json"
    assert attributes["llm.input_messages.0.message.role"] == "system"
    assert attributes["llm.input_messages.1.message.content"] == "what is"


def test_llm_request_attributes_without_content():
    attributes = llm_request_attributes(REQUEST, {"component": "passthrough"}, include_content=False)
    assert not [key for key in attributes if key.startswith(("input.", "llm.input_messages"))]
    assert "be brief" not in str(attributes)


def test_message_attributes_skip_what_is_not_a_message():
    assert message_attributes("llm.output_messages", ["junk", {"role": "assistant", "content": None}]) == {
        "llm.output_messages.1.message.role": "assistant"
    }


def test_usage_and_output_attributes():
    assert usage_attributes({"prompt_tokens": 2, "completion_tokens": 3}) == {
        "llm.token_count.prompt": 2,
        "llm.token_count.completion": 3,
        "llm.token_count.total": 5,
    }
    assert usage_attributes(None) == {}
    assert output_attributes(b'{"a": 1}')["output.mime_type"] == "application/json"
    assert output_attributes("text")["output.mime_type"] == "text/plain"
    assert json.loads(output_attributes({"path": "x"})["output.value"]) == {"path": "x"}


def test_stream_text_joins_deltas_and_ignores_the_rest():
    payloads = [
        orjson.dumps({"choices": [{"delta": {"role": "assistant"}}]}),
        orjson.dumps({"choices": [{"delta": {"content": "Hi"}}]}),
        b"not json",
        orjson.dumps({"choices": [{"delta": {"content": " there"}}]}),
        orjson.dumps({"choices": [], "usage": {"prompt_tokens": 1}}),
    ]
    assert stream_text(payloads) == "Hi there"


def test_tool_attributes():
    with_args = tool_attributes("web", "search", {"q": "cats"}, include_content=True)
    assert with_args["tool.name"] == "search"
    assert json.loads(with_args["tool.parameters"]) == {"q": "cats"}
    without = tool_attributes("web", "search", {"q": "cats"}, include_content=False)
    assert "cats" not in str(without)
    assert without["openinference.span.kind"] == "TOOL"


TOOL_CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}


def test_messages_with_tool_calls_and_tool_results_for_the_messages_view():
    messages = [
        {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    attributes = message_attributes("llm.input_messages", messages)
    assert attributes == {
        "llm.input_messages.0.message.role": "assistant",
        "llm.input_messages.0.message.tool_calls.0.tool_call.id": "call_1",
        "llm.input_messages.0.message.tool_calls.0.tool_call.function.name": "get_weather",
        "llm.input_messages.0.message.tool_calls.0.tool_call.function.arguments": '{"city":"Paris"}',
        "llm.input_messages.1.message.role": "tool",
        "llm.input_messages.1.message.content": "sunny",
        "llm.input_messages.1.message.tool_call_id": "call_1",
    }


def test_an_answer_is_its_text_and_its_output_message_never_the_raw_body():
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"message": {"role": "assistant", "content": "Hi"}}],
    }
    attributes = answer_attributes(response_message(body))
    assert attributes["output.value"] == "Hi"
    assert attributes["output.mime_type"] == "text/plain"
    assert attributes["llm.output_messages.0.message.role"] == "assistant"
    assert attributes["llm.output_messages.0.message.content"] == "Hi"
    assert response_message({"object": "list"}) == {}


def test_a_tool_call_answer_reads_as_the_call():
    attributes = answer_attributes({"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]})
    assert attributes["output.value"] == 'get_weather({"city":"Paris"})'
    assert attributes["llm.output_messages.0.message.tool_calls.0.tool_call.function.name"] == "get_weather"


def test_a_stream_adds_up_to_one_message_with_its_tool_calls():
    def chunk(delta: dict) -> bytes:
        return orjson.dumps({"choices": [{"index": 0, "delta": delta}]})

    pieces = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"tool_calls": [{"index": 0, "id": "call_1", "function": {"name": "get_", "arguments": '{"ci'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": 'ty":"Paris"}'}}]}),
        b'{"choices": [], "usage": {"prompt_tokens": 3}}',
    ]
    call = {"id": "call_1", "function": TOOL_CALL["function"]}
    assert stream_message(pieces) == {"role": "assistant", "content": "", "tool_calls": [call]}
