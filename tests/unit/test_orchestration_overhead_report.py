"""bench/orchestration_overhead.py's section of docs/benchmarks.md: a smoke run's passthrough can
read 0 ms of CPU (CPU time comes in 10 ms ticks) and the report must still be written."""

from __future__ import annotations

from bench.orchestration_overhead import markdown_section


def _run(passthrough_cpu_ms: float) -> dict:
    kinds = {
        "orchestration": {"cpu_ms_per_request": 30.0, "p50_ms": 33.0, "llm_calls": 8},
        "reasoning": {"cpu_ms_per_request": 14.0, "p50_ms": 16.0, "llm_calls": 3},
        "passthrough": {"cpu_ms_per_request": passthrough_cpu_ms, "p50_ms": 2.4, "llm_calls": 1},
    }
    return {
        "orchestration": {
            "profile": {"rounds": 1, "requests": 3},
            "kinds": kinds,
            "orchestrator_own_cpu_ms": 2.0,
            "passthrough_cpu_ms": passthrough_cpu_ms,
        }
    }


def test_the_ratio_to_a_passthrough_request_is_given_when_it_was_timed() -> None:
    text = "\n".join(markdown_section(_run(2.0)))
    assert "2.00 ms of gateway CPU per request, 1.0× a passthrough request" in text


def test_a_passthrough_too_short_to_time_is_said_instead_of_dividing_by_zero() -> None:
    text = "\n".join(markdown_section(_run(0.0)))
    assert "passthrough too short to time" in text
    assert "| passthrough | 1 | 2.4 | 0.00 | 0.00 |" in text
