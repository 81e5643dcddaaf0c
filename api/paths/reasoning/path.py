"""`ReasoningPath`: the agent's output as an OpenAI answer, streamed or whole.

A stream is primed until the first step has been planned, so a failure of the very first
LLM call (unknown model, rate limit, upstream down) is still a proper HTTP error with its
status; after that, every step reaches the client as soon as it happens.

The same path serves any agent whose output is events, then `AnswerText` pieces and an
`AnswerEnd` (the orchestrator's too): `EventAgent` is what it needs of one.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Protocol

from api.errors import InvalidRequestError
from api.paths.base import ChatCall, JsonResult, PathResult, StreamResult
from api.paths.reasoning.agent import AnswerEnd, AnswerText
from api.paths.reasoning.events import ReasoningEvent
from api.paths.reasoning.wire import ChunkWriter, WireEvent, completion, new_completion_id, usage_totals
from api.shielded import close_shielded

_PRIMED_AFTER = ("planning", "error", "reasoning_complete")

Output = WireEvent | AnswerText | AnswerEnd


class EventAgent(Protocol):
    def run(self, call: ChatCall) -> AsyncIterator[Output]: ...


class ReasoningPath:
    def __init__(
        self,
        agent: EventAgent,
        *,
        name: str = "reasoning",
        primed_after: tuple[str, ...] = _PRIMED_AFTER,
        list_key: str = ReasoningEvent.LIST_KEY,
    ) -> None:
        self.agent = agent
        self.name = name
        self.primed_after = primed_after  # event types after which the stream's status is settled
        self.list_key = list_key

    async def run(self, call: ChatCall) -> PathResult:
        if call.body.get("n") not in (None, 1):
            raise InvalidRequestError(f"The {self.name} path answers with one choice: `n` must be 1.", param="n")
        outputs = self.agent.run(call)
        if not call.request.stream:
            return await self._complete(call, outputs)
        primed: list[Output] = []
        try:
            async for output in outputs:
                primed.append(output)
                if _is_event(output) and output.type in self.primed_after:  # type: ignore[union-attr]
                    break
        except BaseException:
            await close_shielded(outputs.aclose)  # type: ignore[attr-defined]
            raise
        return StreamResult(self._stream(call, primed, outputs))

    async def _stream(
        self, call: ChatCall, primed: list[Output], outputs: AsyncIterator[Output]
    ) -> AsyncIterator[bytes]:
        writer = ChunkWriter(new_completion_id(), int(time.time()), call.body["model"])
        try:
            for output in primed:
                yield _payload(writer, output)
            async for output in outputs:
                yield _payload(writer, output)
        finally:
            await close_shielded(outputs.aclose)  # type: ignore[attr-defined]
        if call.request.wants_usage:
            yield writer.usage(usage_totals(call.record.prompt_tokens, call.record.completion_tokens))

    async def _complete(self, call: ChatCall, outputs: AsyncIterator[Output]) -> JsonResult:
        events: list[WireEvent] = []
        answer: list[str] = []
        finish_reason = "stop"
        async for output in outputs:
            if isinstance(output, AnswerText):
                answer.append(output.text)
            elif isinstance(output, AnswerEnd):
                finish_reason = output.finish_reason
            else:
                events.append(output)
        usage = usage_totals(call.record.prompt_tokens, call.record.completion_tokens)
        body = completion(
            new_completion_id(),
            int(time.time()),
            call.body["model"],
            "".join(answer),
            events,
            finish_reason,
            usage,
            self.list_key,
        )
        return JsonResult(body)


def _is_event(output: Output) -> bool:
    return not isinstance(output, AnswerText | AnswerEnd)


def _payload(writer: ChunkWriter, output: Output) -> bytes:
    match output:
        case AnswerText(text=text):
            return writer.content(text)
        case AnswerEnd(finish_reason=reason):
            return writer.finish(reason)
        case _:
            return writer.event(output)
