"""OpenInference attributes as plain values: content only when allowed."""

import json

import orjson

from api.observability.openinference import (
    llm_request_attributes,
    message_attributes,
    output_attributes,
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
