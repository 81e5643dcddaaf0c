"""The whole-answer deadline of a non-streamed upstream call (LLM_TOTAL_TIMEOUT_SECONDS).

A non-streamed answer arrives in one piece after the model has generated all of it, so
the client's per-read timeout (LLM_READ_TIMEOUT, the right bound for each stream chunk)
would cut a long answer that LiteLLM is still producing. Non-streamed calls instead drop
the read bound and get one deadline for the whole exchange; streams keep the per-chunk one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import anyio
import httpx2

from api.config import Settings
from api.errors import UpstreamTimeoutError


@dataclass(frozen=True, slots=True)
class AnswerDeadline:
    seconds: float
    #: The call's `timeout` option: the client's bounds, without the per-read one.
    timeout: httpx2.Timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> AnswerDeadline:
        timeout = httpx2.Timeout(
            connect=settings.llm_connect_timeout,
            read=None,
            write=settings.llm_write_timeout,
            pool=settings.llm_pool_timeout,
        )
        return cls(settings.llm_total_timeout_seconds, timeout)

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Run the body within the deadline; past it, the call is cancelled and a 504 raised."""
        with anyio.move_on_after(self.seconds) as scope:
            yield
        if scope.cancelled_caught:
            raise UpstreamTimeoutError(
                f"The upstream sent no complete answer within {self.seconds:g} s (LLM_TOTAL_TIMEOUT_SECONDS)."
            )
