"""The pure parts of client limits: header formats, the prompt estimate, budget periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.clients.admission import prompt_estimate, settled_tokens
from api.clients.budget import period_of
from api.clients.headers import WindowState, duration, rate_limit_headers, retry_after
from api.request_record import RequestRecord


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, "0s"),
        (-3, "0s"),
        (0.02, "20ms"),
        (0.0201, "21ms"),  # rounded up: never promise a reset sooner than it comes
        (1, "1s"),
        (1.5, "1.5s"),
        (59.999, "59.999s"),
        (60, "1m0s"),
        (360, "6m0s"),
        (390.25, "6m30.25s"),
    ],
)
def test_duration_is_openai_format(seconds: float, expected: str) -> None:
    assert duration(seconds) == expected


@pytest.mark.parametrize(("seconds", "expected"), [(0, "1"), (0.2, "1"), (1, "1"), (1.01, "2"), (59.5, "60")])
def test_retry_after_is_whole_seconds_at_least_one(seconds: float, expected: str) -> None:
    assert retry_after(seconds) == expected


def test_headers_carry_the_triple_of_each_limit_the_client_has() -> None:
    both = rate_limit_headers(WindowState(60, 59, 1.0), WindowState(1000, -5, 360))
    assert both == {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-reset-tokens": "6m0s",
    }
    assert set(rate_limit_headers(None, WindowState(10, 3, 0.5))) == {
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    }
    assert rate_limit_headers(None, None) == {}


@pytest.mark.parametrize(("chars", "tokens"), [(None, 1), (0, 1), (1, 1), (4, 1), (5, 2), (4000, 1000)])
def test_prompt_estimate_is_a_quarter_of_the_characters(chars: int | None, tokens: int) -> None:
    assert prompt_estimate(chars) == tokens


def test_settled_tokens_are_the_whole_usage_or_none() -> None:
    record = RequestRecord("r", "POST", "/v1/chat/completions")
    assert settled_tokens(record) is None
    record.add_usage({"prompt_tokens": 12, "completion_tokens": 30})
    record.add_usage({"prompt_tokens": 5})
    assert settled_tokens(record) == 47


def test_day_period_is_the_utc_day() -> None:
    period = period_of(datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC), "day")
    assert (period.start, period.end) == (datetime(2026, 3, 9, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    assert period.seconds_left(datetime(2026, 3, 9, 23, 59, 59, tzinfo=UTC)) == 1


def test_a_local_time_is_placed_in_its_utc_period() -> None:
    # 01:00 on the 10th at UTC+2 is 23:00 on the 9th in UTC.
    local = datetime(2026, 3, 10, 1, 0, tzinfo=timezone(timedelta(hours=2)))
    assert period_of(local, "day").start == datetime(2026, 3, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "start", "end"),
    [
        (datetime(2026, 2, 14, 12, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC)),
    ],
)
def test_month_period_is_the_utc_calendar_month(now: datetime, start: datetime, end: datetime) -> None:
    period = period_of(now, "month")
    assert (period.start, period.end) == (start, end)
    assert period.label == start.strftime("%Y-%m-%d")
