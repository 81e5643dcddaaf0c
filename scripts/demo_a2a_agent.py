"""The demo A2A agent: an a2a-sdk server with deterministic skills, no keys needed.

    python scripts/demo_a2a_agent.py --port 8002     # card at /.well-known/agent-card.json (DEMO_A2A_PORT)
    python scripts/demo_a2a_agent.py --no-streaming  # its card says it cannot stream: message/send

Skills (picked from the message text):
- unit converter: "convert 10 km to miles" → "10 km = 6.2137 mi";
- research notes: answers from a small fixed corpus ("notes on Tokyo", "research the A2A
  protocol"); an unknown topic is answered with what the corpus covers;
- a scripted hang: a message containing "hang" waits until it is cancelled (tests prove a
  hanging remote agent costs only its task, and that `tasks/cancel` reaches it);
- a message containing "fail" ends its task `failed`.

Every step is a streamed status update (the card says `capabilities.streaming`); the answer
is an artifact. `GET /debug/requests` lists the A2A requests received (JSON-RPC method,
`traceparent`, time), `GET /debug/messages` the texts the tasks were given, `GET
/debug/cancels` the task ids whose cancellation arrived, so tests can see what reached the
agent. The server speaks A2A 1.0 and, on the same endpoint, 0.3.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from collections import deque
from typing import Any

import orjson
import uvicorn
from a2a.helpers.proto_helpers import new_task_from_user_message, new_text_artifact, new_text_message
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events.event_queue_v2 import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks.inmemory_task_store import InMemoryTaskStore
from a2a.server.tasks.task_updater import TaskUpdater
from a2a.types.a2a_pb2 import AgentCapabilities, AgentCard, AgentInterface, AgentSkill, Message, Role, TaskState
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

LENGTH_M = {"mm": 0.001, "cm": 0.01, "m": 1.0, "km": 1000.0, "in": 0.0254, "ft": 0.3048, "mi": 1609.344}
MASS_KG = {"g": 0.001, "kg": 1.0, "lb": 0.45359237, "oz": 0.028349523125}
ALIASES = {
    "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km", "meter": "m", "meters": "m",
    "metre": "m", "metres": "m", "mile": "mi", "miles": "mi", "foot": "ft", "feet": "ft", "inch": "in",
    "inches": "in", "centimeters": "cm", "millimeters": "mm", "pound": "lb", "pounds": "lb", "lbs": "lb",
    "kilogram": "kg", "kilograms": "kg", "kgs": "kg", "gram": "g", "grams": "g", "ounce": "oz", "ounces": "oz",
}  # fmt: skip
CORPUS = {
    "tokyo": "Tokyo is the capital of Japan; its metropolitan area has about 37 million people.",
    "paris": "Paris is the capital of France, on the Seine; the Eiffel Tower was finished in 1889.",
    "a2a": "A2A (Agent2Agent) is an open protocol for agents to exchange tasks, messages and artifacts over HTTP.",
    "mcp": "MCP (Model Context Protocol) connects models to tools and data sources through servers.",
    "aapl": "AAPL is the ticker of Apple Inc. on the NASDAQ exchange.",
}
CONVERSION = re.compile(r"(-?\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s+(?:to|in|into)\s+([a-zA-Z]+)")
STEP_SECONDS = 0.05  # between status updates, so a stream visibly streams


def unit(name: str) -> str:
    lowered = name.lower()
    return ALIASES.get(lowered, lowered)


def convert(text: str) -> str | None:
    """'10 km = 6.2137 mi' for a conversion the text asks for, else None."""
    match = CONVERSION.search(text)
    if not match:
        return None
    value, source, target = float(match[1]), unit(match[2]), unit(match[3])
    for table in (LENGTH_M, MASS_KG):
        if source in table and target in table:
            return f"{value:g} {source} = {value * table[source] / table[target]:.4f} {target}"
    return None


def research(text: str) -> str:
    lowered = text.lower()
    found = [note for topic, note in CORPUS.items() if re.search(rf"\b{topic}\b", lowered)]
    if found:
        return " ".join(found)
    return f"No notes on that; the notes cover: {', '.join(sorted(CORPUS))}."


def reply(text: str) -> tuple[str, str]:
    """(the skill that answered, its answer)."""
    converted = convert(text)
    if converted is not None:
        return "unit_converter", converted
    return "research_notes", research(text)


def agent_card(url: str, streaming: bool = True) -> AgentCard:
    return AgentCard(
        name="demo-a2a",
        description="a demo A2A agent: converts units (length, mass) and answers from its research notes "
        "on Tokyo, Paris, A2A, MCP and AAPL",
        version="1.0.0",
        supported_interfaces=[AgentInterface(url=url, protocol_binding="JSONRPC", protocol_version="1.0")],
        capabilities=AgentCapabilities(streaming=streaming),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="unit_converter",
                name="Unit converter",
                description="converts lengths and masses, e.g. 'convert 10 km to miles'",
                tags=["units"],
                examples=["convert 10 km to miles"],
            ),
            AgentSkill(
                id="research_notes",
                name="Research notes",
                description="answers from a fixed corpus of notes (Tokyo, Paris, A2A, MCP, AAPL)",
                tags=["research"],
                examples=["notes on Tokyo"],
            ),
        ],
    )


class Journal:
    """What reached the agent, for the tests (bounded)."""

    def __init__(self) -> None:
        self.requests: deque[dict[str, Any]] = deque(maxlen=1000)
        self.cancels: deque[dict[str, Any]] = deque(maxlen=1000)
        self.messages: deque[dict[str, Any]] = deque(maxlen=1000)


class DemoExecutor(AgentExecutor):
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        text = context.get_user_input()
        self.journal.messages.append({"text": text, "at": time.time()})
        task = context.current_task
        if task is None:
            task = new_task_from_user_message(context.message)
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work(self._say(updater, "Reading the request"))
        await asyncio.sleep(STEP_SECONDS)
        if "hang" in text.lower():
            await updater.update_status(TaskState.TASK_STATE_WORKING, self._say(updater, "Waiting (hang mode)"))
            await asyncio.Event().wait()  # until cancelled
        if "fail" in text.lower():
            await updater.failed(self._say(updater, "The demo agent was asked to fail"))
            return
        skill, answer = reply(text)
        await updater.update_status(TaskState.TASK_STATE_WORKING, self._say(updater, f"Using skill {skill}"))
        await asyncio.sleep(STEP_SECONDS)
        await updater.add_artifact(list(new_text_artifact("answer", answer).parts), name="answer")
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        self.journal.cancels.append({"task_id": context.task_id, "at": time.time()})
        updater = TaskUpdater(event_queue, context.task_id or "", context.context_id or "")
        await updater.cancel()

    @staticmethod
    def _say(updater: TaskUpdater, text: str) -> Message:
        return new_text_message(text, context_id=updater.context_id, task_id=updater.task_id, role=Role.ROLE_AGENT)


class RecordRequests:
    """Notes every JSON-RPC request's method and `traceparent` before it is handled."""

    def __init__(self, app: ASGIApp, journal: Journal) -> None:
        self.app = app
        self.journal = journal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            method = orjson.loads(body).get("method")
        except (orjson.JSONDecodeError, AttributeError):
            method = None
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.journal.requests.append({"method": method, "traceparent": headers.get("traceparent"), "at": time.time()})
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def create_app(public_url: str, streaming: bool = True) -> Starlette:
    journal = Journal()
    card = agent_card(public_url, streaming)
    handler = DefaultRequestHandler(
        agent_executor=DemoExecutor(journal), task_store=InMemoryTaskStore(), agent_card=card
    )

    async def requests(_: Request) -> JSONResponse:
        return JSONResponse(list(journal.requests))

    async def cancels(_: Request) -> JSONResponse:
        return JSONResponse(list(journal.cancels))

    async def messages(_: Request) -> JSONResponse:
        return JSONResponse(list(journal.messages))

    routes = [
        *create_agent_card_routes(card),
        *create_jsonrpc_routes(handler, "/", enable_v0_3_compat=True),
        Route("/debug/requests", requests),
        Route("/debug/cancels", cancels),
        Route("/debug/messages", messages),
    ]
    app = Starlette(routes=routes)
    app.add_middleware(RecordRequests, journal=journal)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("DEMO_A2A_PORT", "8002")))
    parser.add_argument("--no-streaming", action="store_true", help="a card without capabilities.streaming")
    args = parser.parse_args()
    url = f"http://{args.host}:{args.port}/"
    uvicorn.run(create_app(url, not args.no_streaming), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
