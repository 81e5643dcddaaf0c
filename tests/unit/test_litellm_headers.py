"""LiteLLM's x-litellm-* headers: what passthrough forwards, and what the record keeps (contract section 11)."""

from api.request_record import RequestRecord
from api.upstream.litellm_headers import UpstreamOutcome, forwarded_headers, outcome_of

LITELLM = {
    "content-type": "application/json",
    "x-litellm-model-group": "gpt-4o-mini",
    "x-litellm-model-id": "6a63",
    "x-litellm-attempted-retries": "1",
    "x-litellm-attempted-fallbacks": "1",
    "x-litellm-response-cost": "5.5e-05",
    "x-litellm-model-api-base": "http://10.0.0.7:8000/v1",
    "x-litellm-key-spend": "12.5",
    "x-litellm-key-max-budget": "100",
    "x-litellm-version": "1.106.2",
}


def test_the_client_sees_what_happened_but_not_the_internals():
    forwarded = dict(forwarded_headers(LITELLM))
    assert forwarded[b"x-litellm-attempted-fallbacks"] == b"1"
    assert forwarded[b"x-litellm-model-group"] == b"gpt-4o-mini"
    assert forwarded[b"x-litellm-response-cost"] == b"5.5e-05"
    assert not [name for name in forwarded if b"api-base" in name or b"key-" in name or b"version" in name]
    assert b"content-type" not in forwarded


def test_the_outcome_is_read_from_the_headers():
    assert outcome_of(LITELLM) == UpstreamOutcome("gpt-4o-mini", retries=1, fallbacks=1, cache_hit=False)
    assert outcome_of({**LITELLM, "x-litellm-cache-key": "abc"}).cache_hit
    assert outcome_of({"content-type": "application/json"}) is None  # not LiteLLM: nothing to say
    assert outcome_of({"x-litellm-model-group": "m", "x-litellm-attempted-retries": "many"}).retries == 0


def test_a_request_of_several_calls_sums_them():
    record = RequestRecord("r", "POST", "/v1/chat/completions")
    record.note_upstream(None)
    assert (record.upstream_model, record.attempted_retries, record.cache_hit) == (None, None, None)
    record.note_upstream(UpstreamOutcome("gpt-4o", retries=2, fallbacks=0, cache_hit=True))
    record.note_upstream(UpstreamOutcome("gpt-4o-mini", retries=0, fallbacks=1, cache_hit=False))
    assert (record.upstream_model, record.attempted_retries, record.attempted_fallbacks) == ("gpt-4o-mini", 2, 1)
    assert record.cache_hit is False  # one call missed the cache


def test_only_deterministic_answers_ask_for_the_cache():
    from api.upstream.cache_policy import OPT_IN, with_cache_opt_in

    base = {"model": "gpt-4o", "messages": []}
    assert with_cache_opt_in({**base, "temperature": 0})["cache"] == OPT_IN
    assert "cache" not in with_cache_opt_in(base)  # the model's default temperature is not 0
    assert "cache" not in with_cache_opt_in({**base, "temperature": 0.7})
    assert "cache" not in with_cache_opt_in({**base, "temperature": 0, "n": 3})
    assert "cache" not in with_cache_opt_in({**base, "temperature": 0, "tools": [{"type": "function"}]})
    steering = {**base, "temperature": 0, "cache": {"no-cache": True}}  # a client with upstream:control
    assert with_cache_opt_in(steering) is steering
