"""The price of one upstream call, and a request's cost summed over its calls."""

from __future__ import annotations

import pytest

from api.request_record import RequestRecord
from api.upstream.cost import COST_HEADER, call_cost, table_price

USAGE = {"prompt_tokens": 1000, "completion_tokens": 100}
# gpt-4o in the price table: $2.50 per million input tokens, $1.25 cached, $10 output.
GPT_4O = (1000 * 2.5 + 100 * 10) / 1e6


def test_litellms_header_wins_over_the_price_table():
    assert call_cost({COST_HEADER: "0.0042"}, USAGE, "gpt-4o") == 0.0042


def test_a_usage_cost_is_the_header_of_a_stream():
    assert call_cost({}, {**USAGE, "cost": 0.0031}, "gpt-4o") == 0.0031


def test_a_malformed_reported_cost_is_ignored_for_the_price_table():
    for bad in ("None", "", "nan", "-1", "a lot"):
        assert call_cost({COST_HEADER: bad}, USAGE, "gpt-4o") == pytest.approx(GPT_4O)


def test_without_a_reported_cost_the_price_table_prices_the_upstream_model():
    assert call_cost({}, USAGE, "gpt-4o") == pytest.approx(GPT_4O)
    assert call_cost(None, USAGE, "gpt-4o-2024-08-06") == pytest.approx(GPT_4O)  # a dated snapshot
    assert call_cost({}, USAGE, "openai/gpt-4o") == pytest.approx(GPT_4O)  # LiteLLM's provider prefix


def test_cached_prompt_tokens_are_priced_as_cache_reads():
    cached = {**USAGE, "prompt_tokens_details": {"cached_tokens": 800}}
    assert table_price(cached, "gpt-4o") == pytest.approx((200 * 2.5 + 800 * 1.25 + 100 * 10) / 1e6)
    assert table_price({**USAGE, "prompt_tokens_details": None}, "gpt-4o") == pytest.approx(GPT_4O)


def test_a_model_nobody_prices_is_unknown_not_zero():
    for _ in range(2):  # the second time from the remembered misses
        assert call_cost({}, USAGE, "fake-model") is None
        assert call_cost({}, USAGE, "self-hosted/gpt-4o") is None
    assert call_cost({}, USAGE, "openai/gpt-4o") == pytest.approx(GPT_4O)  # a miss is per provider and name
    assert call_cost({}, None, "gpt-4o") is None  # no usage: nothing to price
    assert call_cost({}, USAGE, None) is None


def test_a_request_sums_its_calls_and_one_unknown_call_makes_it_unknown():
    record = RequestRecord(request_id="r", method="POST", path="/v1/chat/completions")
    assert record.cost_usd == 0.0  # no upstream call yet: it cost nothing
    record.add_cost(0.25)
    record.add_cost(0.5)
    assert record.cost_usd == 0.75
    record.add_cost(None)
    record.add_cost(0.25)
    assert record.cost_usd is None  # a partial sum would understate it
