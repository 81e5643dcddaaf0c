"""Chunks and completions of the agent paths (reasoning, orchestration) in the OpenAI wire format (pure).

All chunks of one answer share `id`, `created` and `model`; the first carries
`delta.role = "assistant"`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import orjson


class WireEvent(Protocol):
    """An agent's event as the wire carries it: reasoning events, orchestration events."""

    WIRE_KEY: ClassVar[str]  # the delta field of a chunk (`reasoning_event`)
    LIST_KEY: ClassVar[str]  # the message field of a whole answer (`reasoning_events`)

    def as_dict(self) -> dict[str, Any]: ...

    def text(self) -> str: ...


def new_completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


@dataclass(slots=True)
class ChunkWriter:
    """Builds the JSON payloads of one streamed answer, in order."""

    completion_id: str
    created: int
    model: str
    _first: bool = True

    def event(self, event: WireEvent) -> bytes:
        return self._chunk({event.WIRE_KEY: event.as_dict(), "reasoning_content": event.text()})

    def content(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def finish(self, reason: str) -> bytes:
        return self._chunk({}, finish_reason=reason)

    def usage(self, usage: dict[str, int]) -> bytes:
        return orjson.dumps({**self._envelope(), "choices": [], "usage": usage})

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        if self._first:
            delta = {"role": "assistant", **delta}
            self._first = False
        choice = {"index": 0, "delta": delta, "finish_reason": finish_reason}
        return orjson.dumps({**self._envelope(), "choices": [choice]})

    def _envelope(self) -> dict[str, Any]:
        return {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
        }


def completion(
    completion_id: str,
    created: int,
    model: str,
    answer: str,
    events: Sequence[WireEvent],
    finish_reason: str,
    usage: dict[str, int],
    list_key: str = "reasoning_events",
) -> bytes:
    """A non-streamed answer: steps in `reasoning_content` and the events under `list_key`."""
    message = {
        "role": "assistant",
        "content": answer,
        "reasoning_content": "".join(e.text() for e in events),
        list_key: [e.as_dict() for e in events],
    }
    return orjson.dumps(
        {
            "id": completion_id,
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": usage,
        }
    )


def usage_totals(prompt_tokens: int | None, completion_tokens: int | None) -> dict[str, int]:
    prompt, completion_ = prompt_tokens or 0, completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion_, "total_tokens": prompt + completion_}
