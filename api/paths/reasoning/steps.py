"""One reasoning step: an LLM call whose reply must validate as a `ReasoningStep`.

An invalid reply is retried once, with the validation problem shown to the model; a
second invalid reply is a `StepFailed`, which ends the loop with `stop_reason: step_error`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from api.paths.base import ChatCall
from api.paths.reasoning.conversation import STEP_SAMPLING, Message, retry_messages, sampling
from api.paths.reasoning.llm import AgentLLM
from api.paths.reasoning.schema import ReasoningStep, step_response_format

_Model = TypeVar("_Model", bound=BaseModel)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.S)


class StepInvalid(Exception):
    """The model's reply is not a valid step (the message says why, for the retry)."""


class StepFailed(Exception):
    """The model failed to produce a valid step twice in a row."""


def parse_step(reply: str) -> ReasoningStep:
    """Parse and validate a step; tolerant of a Markdown code fence around the JSON."""
    return parse_reply(reply, ReasoningStep, "step")


def parse_reply(reply: str, schema: type[_Model], what: str) -> _Model:
    """Parse and validate a structured reply (a step, a plan); tolerant of a code fence."""
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data: Any = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StepInvalid(f"the reply is not JSON ({exc})") from exc
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or what}: {e['msg']}" for e in exc.errors())
        raise StepInvalid(f"the JSON does not match the {what} schema ({problems})") from exc


class StepGenerator:
    def __init__(self, llm: AgentLLM, step_format: str) -> None:
        self.llm = llm
        self.response_format = step_response_format(step_format)

    async def next_step(self, call: ChatCall, messages: list[Message], iteration: int = 1) -> ReasoningStep:
        params = {**sampling(call.body, STEP_SAMPLING), "response_format": self.response_format}
        name = f"reasoning step {iteration}"  # its LLM span's name (the step's CHAIN span is `step N`)
        reply = await self.llm.complete(call, messages, params, name)
        try:
            return parse_step(reply)
        except StepInvalid as first:
            retry = await self.llm.complete(call, retry_messages(messages, reply, str(first)), params, f"{name} retry")
            try:
                return parse_step(retry)
            except StepInvalid as second:
                raise StepFailed(f"the model did not produce a valid step after a retry: {second}") from second
