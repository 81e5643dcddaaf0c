"""Usage accounting on passthrough streams: recorded always, forwarded only when asked for."""

import orjson

from api.paths.passthrough import _account_usage
from api.request_record import RequestRecord

CONTENT = orjson.dumps({"choices": [{"index": 0, "delta": {"content": "hi"}}], "usage": None})
USAGE_ONLY = orjson.dumps({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
LITELLM_USAGE = orjson.dumps(
    {"choices": [{"index": 0, "delta": {}}], "usage": {"prompt_tokens": 4, "completion_tokens": 1}}
)
MIXED = orjson.dumps(
    {"choices": [{"index": 0, "delta": {"content": "x"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1}}
)


def record():
    return RequestRecord(request_id="r", method="POST", path="/v1/chat/completions")


def test_content_chunks_pass_unchanged():
    assert _account_usage(CONTENT, record(), wants_usage=False) is CONTENT


def test_usage_chunk_is_recorded_and_dropped_when_not_asked_for():
    rec = record()
    assert _account_usage(USAGE_ONLY, rec, wants_usage=False) is None
    assert _account_usage(LITELLM_USAGE, rec, wants_usage=False) is None
    assert (rec.prompt_tokens, rec.completion_tokens) == (7, 3)


def test_usage_chunk_is_recorded_and_forwarded_when_asked_for():
    rec = record()
    assert _account_usage(USAGE_ONLY, rec, wants_usage=True) is USAGE_ONLY
    assert rec.prompt_tokens == 3


def test_content_is_never_dropped_with_an_unwanted_usage():
    forwarded = _account_usage(MIXED, record(), wants_usage=False)
    assert orjson.loads(forwarded) == {"choices": [{"index": 0, "delta": {"content": "x"}}]}
