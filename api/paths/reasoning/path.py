"""`ReasoningPath`: the agent's output as an OpenAI answer, streamed or whole.

A stream is primed until the first step has been planned, so a failure of the very first
LLM call (unknown model, rate limit, upstream down) is still a proper HTTP error with its
status; after that, every step reaches the client as soon as it happens.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from api.errors import InvalidRequestError
from api.paths.base import ChatCall, JsonResult, PathResult, StreamResult
from api.paths.reasoning.agent import AgentOutput, AnswerEnd, AnswerText, ReasoningAgent
from api.paths.reasoning.events import ReasoningEvent
from api.paths.reasoning.wire import ChunkWriter, completion, new_completion_id, usage_totals
from api.shielded import close_shielded

_PRIMED_AFTER = ("planning", "error", "reasoning_complete")


class ReasoningPath:
    def __init__(self, agent: ReasoningAgent) -> None:
        self.agent = agent

    async def run(self, call: ChatCall) -> PathResult:
        if call.body.get("n") not in (None, 1):
            raise InvalidRequestError("The reasoning path answers with one choice: `n` must be 1.", param="n")
        outputs = self.agent.run(call)
        if not call.request.stream:
            return await self._complete(call, outputs)
        primed: list[AgentOutput] = []
        try:
            async for output in outputs:
                primed.append(output)
                if isinstance(output, ReasoningEvent) and output.type in _PRIMED_AFTER:
                    break
        except BaseException:
            await close_shielded(outputs.aclose)
            raise
        return StreamResult(self._stream(call, primed, outputs))

    async def _stream(
        self, call: ChatCall, primed: list[AgentOutput], outputs: AsyncIterator[AgentOutput]
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

    async def _complete(self, call: ChatCall, outputs: AsyncIterator[AgentOutput]) -> JsonResult:
        events: list[ReasoningEvent] = []
        answer: list[str] = []
        finish_reason = "stop"
        async for output in outputs:
            if isinstance(output, ReasoningEvent):
                events.append(output)
            elif isinstance(output, AnswerText):
                answer.append(output.text)
            else:
                finish_reason = output.finish_reason
        usage = usage_totals(call.record.prompt_tokens, call.record.completion_tokens)
        body = completion(
            new_completion_id(), int(time.time()), call.body["model"], "".join(answer), events, finish_reason, usage
        )
        return JsonResult(body)


def _payload(writer: ChunkWriter, output: AgentOutput) -> bytes:
    match output:
        case ReasoningEvent():
            return writer.event(output)
        case AnswerText(text=text):
            return writer.content(text)
        case AnswerEnd(finish_reason=reason):
            return writer.finish(reason)
