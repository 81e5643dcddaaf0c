"""The whole-answer deadline of non-streamed calls (LLM_TOTAL_TIMEOUT_SECONDS)."""

from __future__ import annotations

import anyio
import pytest

from api.config import Settings
from api.errors import UpstreamTimeoutError
from api.upstream.deadline import AnswerDeadline


def deadline(**overrides) -> AnswerDeadline:
    settings = Settings(_env_file=None, llm_api_key="sk-x", require_auth=False, **overrides)
    return AnswerDeadline.from_settings(settings)


def test_the_call_keeps_the_clients_bounds_but_not_the_per_read_one():
    bounds = deadline(llm_total_timeout_seconds=120, llm_connect_timeout=3, llm_pool_timeout=2)
    assert bounds.seconds == 120
    assert (bounds.timeout.connect, bounds.timeout.read, bounds.timeout.pool) == (3, None, 2)


async def test_past_the_deadline_the_call_is_cancelled_and_a_504_names_the_setting():
    bounds = deadline(llm_total_timeout_seconds=0.01)
    with (
        pytest.raises(UpstreamTimeoutError, match="LLM_TOTAL_TIMEOUT_SECONDS") as caught,
        bounds.bound(),
    ):
        await anyio.Event().wait()  # an answer that never comes
    assert caught.value.status_code == 504


async def test_an_answer_within_the_deadline_passes():
    with deadline(llm_total_timeout_seconds=30).bound():
        answer = "whole"
    assert answer == "whole"
