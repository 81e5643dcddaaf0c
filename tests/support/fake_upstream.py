"""Test-side view of the fake upstream (scripts/fake_upstream.py): what reached the model."""

from __future__ import annotations

import time
from typing import Any

import httpx


class FakeUpstream:
    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/_fake/requests").json()

    def events(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/_fake/events").json()

    def request_with(self, marker: str, timeout: float = 5.0) -> dict[str, Any]:
        """The one recorded request whose body mentions `marker` (waits for it to arrive)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [r for r in self.requests() if marker in str(r["body"])]
            if found:
                assert len(found) == 1, f"{len(found)} upstream requests carry {marker!r}"
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"no upstream request carries {marker!r}")
            time.sleep(0.05)

    def requests_with(self, marker: str) -> list[dict[str, Any]]:
        return [r for r in self.requests() if marker in str(r["body"])]

    def wait_for_event(self, seq: int, kind: str, timeout: float) -> float:
        """Seconds waited until the fake recorded `kind` for request `seq`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if any(e["seq"] == seq and e["event"] == kind for e in self.events()):
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError(f"the fake upstream never saw {kind!r} for request {seq}: {self.events()[-5:]}")

    def usage_with(self, marker: str) -> tuple[int, int, int]:
        """(prompt tokens, completion tokens, calls) the fake answered the requests carrying
        `marker` with: the truth a trace's totals must add up to."""
        calls = [r for r in self.requests_with(marker) if r.get("usage")]
        prompt = sum(r["usage"]["prompt_tokens"] for r in calls)
        return prompt, sum(r["usage"]["completion_tokens"] for r in calls), len(calls)
