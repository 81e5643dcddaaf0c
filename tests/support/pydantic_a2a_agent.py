"""A third-party A2A server for the tests: a pydantic-ai agent on a FunctionModel (offline,
deterministic), served as A2A by fasta2a (`fasta2a.pydantic_ai.agent_to_a2a`).

    python tests/support/pydantic_a2a_agent.py --port 8003

It answers from a few notes: the gateway's A2A client is proven against an implementation
the project did not write (fasta2a's own server, task store, broker and worker).

One shim: fasta2a 2.1.1's InMemoryStorage stamps task statuses with a naive
`datetime.now().isoformat()` ("2026-12-02T19:39:08.432800"), which is not the RFC 3339
timestamp (offset or Z) that proto JSON and so a2a-sdk's client require: every stream
would fail to parse. `UtcStorage` stamps the same moment with its UTC offset.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fasta2a.pydantic_ai import agent_to_a2a
from fasta2a.storage import InMemoryStorage
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

NOTES = {
    "a2a": "Notes-AI: A2A lets agents hand each other tasks over JSON-RPC.",
    "mcp": "Notes-AI: MCP gives models tools.",
}


def last_prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        for part in getattr(message, "parts", []):
            if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                return part.content
    return ""


def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
    prompt = last_prompt(messages).lower()
    found = [note for topic, note in NOTES.items() if topic in prompt]
    return ModelResponse(parts=[TextPart(" ".join(found) or "Notes-AI: no notes on that.")])


class UtcStorage(InMemoryStorage):
    async def submit_task(self, *args: Any, **kwargs: Any) -> Any:
        return _utc(await super().submit_task(*args, **kwargs))

    async def update_task(self, *args: Any, **kwargs: Any) -> Any:
        return _utc(await super().update_task(*args, **kwargs))


def _utc(task: Any) -> Any:
    task["status"]["timestamp"] = datetime.now(UTC).isoformat()
    return task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8003)
    args = parser.parse_args()
    agent = Agent(FunctionModel(answer), name="notes-ai", instructions="Answer from your notes.")
    app = agent_to_a2a(
        agent, storage=UtcStorage(), url=f"http://127.0.0.1:{args.port}/", description="a pydantic-ai notes agent"
    )
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
