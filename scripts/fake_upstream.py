"""A fake OpenAI-compatible upstream: deterministic, fast, scriptable per request.

The only fake in the project's tests and benchmarks is the model, and this is it. It
speaks enough of the OpenAI API (`/v1/models`, `/v1/chat/completions`, streaming and
not) for LiteLLM and the gateway to treat it as a real provider.

Behaviour is chosen per request by directives appended to the model name with `+`, so
one server serves a whole test run (LiteLLM forwards the model name unchanged):

    fake-model                       echo the last user message ("Echo: ...")
    fake-model+latency=50            wait 50 ms before answering (or before the first chunk)
    fake-model+chunks=20x10          stream 20 content chunks, 10 ms apart
    fake-model+error=429             answer that status with an OpenAI error body
                                     (429 carries `Retry-After: 7`)
    fake-model+stall                 accept the request and never answer
    fake-model+break=3               stream 3 chunks, then drop the connection
    fake-model+stall_after=2         stream 2 chunks, then stall forever
    fake-model+end_after=2           stream 2 chunks, then end the response cleanly: no
                                     finish_reason, no usage, no [DONE] (a truncated answer)
    fake-model+say=hello_world       answer "hello world" instead of the echo
    fake-model+agent=two_tools       play a reasoning agent: the scripted steps of that scenario
    fake-model+choose=reasoning      structured answers pick this value for enum fields (classifier)
    fake-model+orchestrate=parallel  play the orchestrator's planner: the scripted plan of that scenario

Requests with non-empty `tools` (and `tool_choice` not "none") get a `tool_calls` answer
for the first (or the named) tool, except right after a tool's result (the last message
has role `tool`): that is answered in text built from the result, so a client that loops
on function calls (Open WebUI's native mode) stops. `response_format` json_schema /
json_object gets a JSON answer built from the schema.

Reasoning steps (a structured-output request whose schema has `next_action`, or JSON mode
with an `agent=` directive) are answered from `AGENT_SCENARIOS`, statelessly: the step
position is the number of step JSONs the agent already sent back as assistant messages,
and a retry after an invalid reply is the next attempt at the same position; the answer
call of a scripted scenario is the echo, so tests can see which conversation reached it.
Without an `agent=` directive (or with `agent=demo`) the `demo` agent plays
(scripts/fake_demo_agent.py): it picks its tools from the question (weather, time, stock
price, unit conversion; none: it answers at once, with the echo) and composes its final
answer from the tool results the reasoning agent hands to the answer call, e.g. "In Paris
it is 88.0 °F (31.1 °C) and partly cloudy, with 93% humidity."

Plans (a structured-output request whose schema has `depends_on`) are answered from
`PLAN_SCENARIOS` by the `orchestrate=` directive (`parallel`, `chain`, `failing`, `invalid`,
`invalid_once`, `slow`; with remote A2A agents: `remote_parallel`, `remote_chain`,
`remote_hang`, `remote_failing`, `third_party`), statelessly like steps: a retry is the next attempt, counted by the
plans already sent back. Without the directive the plan is one `reasoning` task: the user's
last message. Two task instructions are scripted (`TASK_SCRIPTS`): one the model fails
(invalid steps twice), one that calls the demo server's 30 s `slow_operation`; every other
task is the demo agent's. The orchestrator's answer call (its notes list `- Result of task`
lines) is answered with those results joined, so tests see which results reached it.

Every request is recorded (path, headers, body) and every client disconnect noted, so
tests can see exactly what reached the model: `GET /_fake/requests`, `GET /_fake/events`,
`DELETE /_fake/requests` clears both.

Run it: `python scripts/fake_upstream.py --port 9100`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvicorn
from fake_demo_agent import answer, demo_script, note_findings, tool_findings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

DEFAULT_MODELS = ("fake-model", "gpt-4o", "gpt-4o-mini")
RECORD_LIMIT = 500


@dataclass
class Directives:
    """What the model name asks the fake to do."""

    base: str
    latency_ms: float = 0.0
    chunks: int | None = None
    chunk_delay_ms: float = 0.0
    error: int | None = None
    stall: bool = False
    break_after: int | None = None
    stall_after: int | None = None
    end_after: int | None = None
    say: str | None = None
    agent: str | None = None
    choose: str | None = None
    orchestrate: str | None = None


def parse_directives(model: str) -> Directives:
    """Split `base+key=value+flag` into directives; unknown keys are ignored."""
    base, *parts = model.split("+")
    d = Directives(base=base)
    for part in parts:
        key, _, value = part.partition("=")
        if key == "latency":
            d.latency_ms = float(value)
        elif key == "chunks":
            count, _, delay = value.partition("x")
            d.chunks, d.chunk_delay_ms = int(count), float(delay or 0)
        elif key == "error":
            d.error = int(value)
        elif key == "stall":
            d.stall = True
        elif key == "break":
            d.break_after = int(value)
        elif key == "stall_after":
            d.stall_after = int(value)
        elif key == "end_after":
            d.end_after = int(value)
        elif key == "say":
            d.say = value.replace("_", " ")
        elif key == "agent":
            d.agent = value
        elif key == "choose":
            d.choose = value
        elif key == "orchestrate":
            d.orchestrate = value
    return d


@dataclass
class Recorder:
    """Ring buffers of what the fake saw, for tests to inspect."""

    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECORD_LIMIT))
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=RECORD_LIMIT))
    counter: itertools.count = field(default_factory=itertools.count)

    def record(self, request: Request, body: Any) -> int:
        seq = next(self.counter)
        self.requests.append(
            {
                "seq": seq,
                "path": request.url.path,
                "headers": dict(request.headers),
                "body": body,
                "received_at": time.time(),
            }
        )
        return seq

    def note_usage(self, seq: int, usage: dict[str, int] | None) -> None:
        """The usage the fake answered request `seq` with: what tests sum to know the truth."""
        for entry in reversed(self.requests):
            if entry["seq"] == seq:
                entry["usage"] = usage
                return

    def event(self, seq: int, kind: str) -> None:
        self.events.append({"seq": seq, "event": kind, "at": time.time()})


# ---- answer building (pure) -------------------------------------------------------


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            texts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
            images = sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")
            suffix = f" [{images} image(s)]" if images else ""
            return " ".join(texts) + suffix
    return ""


def count_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "").split()) + 3 for m in messages)


def example_from_schema(schema: dict[str, Any], choose: str | None = None) -> Any:
    """A deterministic value that satisfies a simple JSON schema (`choose` picks enum values)."""
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        options = schema.get("enum") or [schema.get("const")]
        return choose if choose in options else options[0]
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: example_from_schema(sub, choose) for name, sub in props.items()}
    if kind == "array":
        return [example_from_schema(schema.get("items", {}), choose)]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    return "example"


def answer_text(body: dict[str, Any], d: Directives) -> str:
    if is_plan_request(body):
        return plan_reply(body, d)
    if is_step_request(body, d):
        return agent_reply(body, d)
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema") or {}
        return orjson.dumps(example_from_schema(schema, d.choose)).decode()
    if fmt.get("type") == "json_object":
        return orjson.dumps({"answer": last_user_text(body.get("messages", []))}).decode()
    if d.say is not None:
        return d.say
    messages = body.get("messages", [])
    results = orchestration_results(messages)
    if results:  # the orchestrator's answer call: its task results, joined
        return " ".join(results)
    if answers_tool_results(body):
        return answer(tool_findings(messages), last_user_text(messages))
    findings = note_findings(messages) if plays_demo(d) else []
    if findings:  # the reasoning agent's answer call, carrying the demo's tool results
        return answer(findings, question_of(messages))
    return "Echo: " + last_user_text(messages)


def answers_tool_results(body: dict[str, Any]) -> bool:
    """The last message is a tool's result: answer it in text, never with another tool call
    (a client looping on function calls would otherwise call the tool forever)."""
    messages = body.get("messages") or []
    return bool(messages) and messages[-1].get("role") == "tool"


def chosen_tool(body: dict[str, Any]) -> dict[str, Any] | None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    if not tools or choice == "none" or answers_tool_results(body):
        return None
    if isinstance(choice, dict):
        wanted = (choice.get("function") or {}).get("name")
        for tool in tools:
            if tool.get("function", {}).get("name") == wanted:
                return tool
    return tools[0]


def tool_call_for(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool.get("function", {})
    arguments = example_from_schema(function.get("parameters") or {"type": "object"})
    return {
        "id": "call_fake_0",
        "type": "function",
        "function": {"name": function.get("name", "tool"), "arguments": orjson.dumps(arguments).decode()},
    }


def split_chunks(text: str, count: int | None) -> list[str]:
    words = text.split(" ")
    pieces = [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    if count is None or count <= 0:
        return pieces
    # Spread the text over exactly `count` chunks (padding with empty strings).
    out = ["" for _ in range(count)]
    for i, piece in enumerate(pieces):
        out[min(i * count // max(len(pieces), 1), count - 1)] += piece
    return out


def usage_for(body: dict[str, Any], completion_tokens: int) -> dict[str, int]:
    prompt = count_prompt_tokens(body.get("messages", []))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def error_body(status: int) -> dict[str, Any]:
    kinds = {
        400: ("invalid_request_error", "bad_request"),
        401: ("authentication_error", "invalid_api_key"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
    }
    kind, code = kinds.get(status, ("server_error", "fake_server_error"))
    return {"error": {"message": f"fake upstream error {status}", "type": kind, "param": None, "code": code}}


def completion(body: dict[str, Any], d: Directives, created: int) -> dict[str, Any]:
    tool = chosen_tool(body)
    if tool is not None:
        message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": [tool_call_for(tool)]}
        finish, tokens = "tool_calls", 5
    else:
        text = answer_text(body, d)
        message = {"role": "assistant", "content": text}
        finish, tokens = "stop", len(split_chunks(text, d.chunks))
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": created,
        "model": body.get("model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": usage_for(body, tokens),
        "system_fingerprint": "fp_fake",
    }


def chunk(body: dict[str, Any], created: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": created,
        "model": body.get("model"),
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def stream_frames(body: dict[str, Any], d: Directives, created: int) -> list[bytes]:
    """Every SSE frame of a streamed answer, in order, `[DONE]` included."""
    frames = [chunk(body, created, {"role": "assistant", "content": ""})]
    tool = chosen_tool(body)
    if tool is not None:
        call = tool_call_for(tool)
        frames.append(chunk(body, created, {"tool_calls": [{"index": 0, **call}]}))
        frames.append(chunk(body, created, {}, "tool_calls"))
        tokens = 5
    else:
        pieces = split_chunks(answer_text(body, d), d.chunks)
        frames.extend(chunk(body, created, {"content": p}) for p in pieces)
        frames.append(chunk(body, created, {}, "stop"))
        tokens = len(pieces)
    if (body.get("stream_options") or {}).get("include_usage"):
        usage = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": created,
            "model": body.get("model"),
            "choices": [],
            "usage": usage_for(body, tokens),
        }
        frames.append(b"data: " + orjson.dumps(usage) + b"\n\n")
    frames.append(b"data: [DONE]\n\n")
    if d.end_after is not None:  # the role chunk and that many content chunks, then nothing
        return frames[: 1 + d.end_after]
    return frames


# ---- the agent scenarios ------------------------------------------------------------

INVALID_STEP = "I think the answer is 42."  # deliberately not JSON


def step(thought: str, action: str, *calls: tuple[str, dict[str, Any]], concurrent: bool = False) -> dict[str, Any]:
    tools = [{"tool_name": name, "arguments": args, "reasoning": f"{name} gives what I need"} for name, args in calls]
    return {"thought": thought, "next_action": action, "tools_to_use": tools, "concurrent_execution": concurrent}


DONE = step("I have everything I need to answer.", "finished")
THINK = step("Let me think about this a little more.", "continue_thinking")

# scenario → positions → attempts (a retry after an invalid reply is the next attempt); the
# `demo` scenario is not here: its steps depend on the question (scripts/fake_demo_agent.py).
AGENT_SCENARIOS: dict[str, list[list[dict[str, Any] | str]]] = {
    "weather": [[step("I should look up the weather.", "use_tools", ("get_weather", {"city": "Paris"}))], [DONE]],
    "weather_and_time": [
        [step("First, the weather in Paris.", "use_tools", ("get_weather", {"city": "Paris"}))],
        [step("Now the local time there.", "use_tools", ("get_current_time", {"timezone": "Europe/Paris"}))],
        [DONE],
    ],
    "time_then_weather": [
        [step("The local time first.", "use_tools", ("get_current_time", {"timezone": "Asia/Tokyo"}))],
        [step("Then the weather.", "use_tools", ("get_weather", {"city": "Tokyo"}))],
        [DONE],
    ],
    "two_tools": [
        [
            step(
                "Weather and stock price do not depend on each other.",
                "use_tools",
                ("get_weather", {"city": "Oslo"}),
                ("get_stock_price", {"symbol": "ACME"}),
                concurrent=True,
            )
        ],
        [DONE],
    ],
    "unknown_tool": [[step("Maybe a teleporter helps.", "use_tools", ("teleport", {"to": "Mars"}))], [DONE]],
    "tool_fails": [
        [
            step(
                "Convert to parsecs.",
                "use_tools",
                ("convert_units", {"value": 1, "from_unit": "m", "to_unit": "parsec"}),
            )
        ],
        [DONE],
    ],
    "slow_tool": [[step("This takes a while.", "use_tools", ("slow_operation", {"seconds": 30}))], [DONE]],
    "weather_then_slow": [
        [
            step(
                "Both at once.",
                "use_tools",
                ("get_weather", {"city": "Rome"}),
                ("slow_operation", {"seconds": 30}),
                concurrent=True,
            )
        ],
        [DONE],
    ],
    "invalid_once": [
        [INVALID_STEP, step("Now properly: the weather.", "use_tools", ("get_weather", {"city": "Lima"}))],
        [DONE],
    ],
    "invalid_twice": [[INVALID_STEP, INVALID_STEP]],
    "think_forever": [[THINK]] * 1000,
}


# ---- the orchestrator's plans -------------------------------------------------------

FAILING_TASK = "Find the answer nobody knows."  # the fake model fails it: invalid steps twice
SLOW_TASK = "Run the slow operation."  # the demo server's slow_operation, 30 s
TASK_SCRIPTS = {FAILING_TASK: "invalid_twice", SLOW_TASK: "slow_tool"}


def task(task_id: str, instruction: str, *depends_on: str, agent: str = "reasoning") -> dict[str, Any]:
    return {"id": task_id, "agent": agent, "instruction": instruction, "depends_on": list(depends_on)}


VALID_SINGLE = {"tasks": [task("t1", "What is the weather in Paris?")]}
# The remote A2A agents the tests configure: the demo agent (scripts/demo_a2a_agent.py) and a
# third-party one (a pydantic-ai agent served by fasta2a, tests/support/pydantic_a2a_agent.py).
DEMO_A2A = "demo-a2a"
THIRD_PARTY_A2A = "notes-ai"
HANG_TASK = "Hang until cancelled."  # the demo A2A agent waits for its cancellation
# scenario → attempts (a retry after an invalid plan is the next attempt)
PLAN_SCENARIOS: dict[str, list[dict[str, Any]]] = {
    "parallel": [{"tasks": [task("t1", "What is the weather in Paris?"), task("t2", "What is the price of AAPL?")]}],
    "chain": [{"tasks": [task("t1", "What is the weather in Tokyo?"), task("t2", "What time is it in Tokyo?", "t1")]}],
    "failing": [
        {
            "tasks": [
                task("t1", "What is the weather in Paris?"),
                task("t2", FAILING_TASK),
                task("t3", "Explain the answer nobody knows.", "t2"),
            ]
        }
    ],
    "invalid": [
        {"tasks": [task("t1", "Cast a spell.", agent="wizard")]},
        {"tasks": [task("a", "First half.", "b"), task("b", "Second half.", "a")]},
    ],
    "invalid_once": [{"tasks": [task("t1", "Cast a spell.", agent="wizard")]}, VALID_SINGLE],
    "slow": [{"tasks": [task("t1", SLOW_TASK), task("t2", SLOW_TASK)]}],
    "remote_parallel": [
        {
            "tasks": [
                task("t1", "What is the weather in Paris?"),
                task("t2", "Convert 10 km to miles.", agent=DEMO_A2A),
            ]
        }
    ],
    "remote_chain": [
        {
            "tasks": [
                task("t1", "What is the weather in Tokyo?"),
                task("t2", "Give me your research notes on Tokyo.", "t1", agent=DEMO_A2A),
                task("t3", "What time is it in Tokyo?", "t2"),
            ]
        }
    ],
    "remote_hang": [{"tasks": [task("t1", "What is the weather in Paris?"), task("t2", HANG_TASK, agent=DEMO_A2A)]}],
    "remote_failing": [
        {
            "tasks": [
                task("t1", "Please fail this one.", agent=DEMO_A2A),
                task("t2", "Explain the failure.", "t1"),
            ]
        }
    ],
    "third_party": [{"tasks": [task("t1", "What do your notes say about A2A?", agent=THIRD_PARTY_A2A)]}],
}


def is_plan_request(body: dict[str, Any]) -> bool:
    fmt = body.get("response_format") or {}
    schema = (fmt.get("json_schema") or {}).get("schema") or {}
    return fmt.get("type") == "json_schema" and "depends_on" in orjson.dumps(schema).decode()


def _is_plan_json(content: Any) -> bool:
    if not isinstance(content, str) or not content.startswith("{"):
        return False
    try:
        return "tasks" in orjson.loads(content)
    except orjson.JSONDecodeError:
        return False


def plan_reply(body: dict[str, Any], d: Directives) -> str:
    """The scripted plan for this attempt (stateless: attempts are the plans already sent back)."""
    messages = body.get("messages", [])
    attempt = sum(1 for m in messages if m.get("role") == "assistant" and _is_plan_json(m.get("content")))
    if d.orchestrate in PLAN_SCENARIOS:
        attempts = PLAN_SCENARIOS[str(d.orchestrate)]
        return orjson.dumps(attempts[min(attempt, len(attempts) - 1)]).decode()
    return orjson.dumps({"tasks": [task("t1", last_user_text(messages) or "Answer the user.")]}).decode()


def orchestration_results(messages: list[dict[str, Any]]) -> list[str]:
    """The `- Result of task <id> (<agent>): <text>` lines of the orchestrator's answer notes."""
    system = " ".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    results = []
    for line in system.splitlines():
        if line.startswith("- Result of task "):
            results.append(line.split("): ", 1)[1] if "): " in line else line)
    return results


def is_step_request(body: dict[str, Any], d: Directives) -> bool:
    fmt = body.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return "next_action" in orjson.dumps((fmt.get("json_schema") or {}).get("schema") or {}).decode()
    return fmt.get("type") == "json_object" and d.agent is not None


def _is_step_json(content: Any) -> bool:
    if not isinstance(content, str) or not content.startswith("{"):
        return False
    try:
        return "next_action" in orjson.loads(content)
    except orjson.JSONDecodeError:
        return False


def _is_step_attempt(content: Any) -> bool:
    """A step the agent sent back, valid or not (a retry's question is still the first one)."""
    return content == INVALID_STEP or _is_step_json(content)


def plays_demo(d: Directives) -> bool:
    """No scripted scenario named (or an unknown one): the demo agent plays."""
    return d.agent not in AGENT_SCENARIOS


def question_of(messages: list[dict[str, Any]]) -> str:
    """The client's last question: the last user message before the agent's first step (the
    agent sends tool results, and retry requests, back as user messages after its steps)."""
    first_step = next(
        (i for i, m in enumerate(messages) if m.get("role") == "assistant" and _is_step_attempt(m.get("content"))),
        len(messages),
    )
    return last_user_text(messages[:first_step])


def agent_reply(body: dict[str, Any], d: Directives) -> str:
    """The scripted step for this point of the conversation (stateless, see the module doc)."""
    assistant = [m.get("content") for m in body.get("messages", []) if m.get("role") == "assistant"]
    position = sum(1 for content in assistant if _is_step_json(content))
    last_step = max((i for i, content in enumerate(assistant) if _is_step_json(content)), default=-1)
    attempt = sum(1 for content in assistant[last_step + 1 :] if content == INVALID_STEP)
    question = question_of(body.get("messages", []))
    scenario = d.agent if not plays_demo(d) else TASK_SCRIPTS.get(question)
    script = [[s] for s in demo_script(question)] if scenario is None else AGENT_SCENARIOS[scenario]
    attempts = script[position] if position < len(script) else [DONE]
    chosen = attempts[min(attempt, len(attempts) - 1)]
    return chosen if isinstance(chosen, str) else orjson.dumps(chosen).decode()


# ---- HTTP layer ---------------------------------------------------------------------


class BrokenStream(Exception):
    """Raised inside a streaming body to make uvicorn drop the connection mid-way."""


def create_app(models: tuple[str, ...] = DEFAULT_MODELS) -> Starlette:
    recorder = Recorder()

    async def list_models(request: Request) -> Response:
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"} for m in models]
        return JSONResponse({"object": "list", "data": data})

    async def chat_completions(request: Request) -> Response:
        raw = await request.body()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return JSONResponse(error_body(400), status_code=400)
        seq = recorder.record(request, body)
        d = parse_directives(str(body.get("model", "")))
        if d.stall:
            return await stall_until_disconnect(request, seq)
        if d.latency_ms and not body.get("stream"):
            await asyncio.sleep(d.latency_ms / 1000)
        if d.error is not None:
            headers = {"retry-after": "7"} if d.error == 429 else {}
            return JSONResponse(error_body(d.error), status_code=d.error, headers=headers)
        created = int(time.time())
        if not body.get("stream"):
            answer = completion(body, d, created)
            recorder.note_usage(seq, answer["usage"])
            return Response(orjson.dumps(answer), media_type="application/json")
        frames = stream_frames(body, d, created)
        recorder.note_usage(seq, next((orjson.loads(f[6:])["usage"] for f in frames if b'"usage"' in f), None))
        return StreamingResponse(paced(frames, d, seq), media_type="text/event-stream")

    async def paced(frames: list[bytes], d: Directives, seq: int):  # type: ignore[no-untyped-def]
        try:
            if d.latency_ms:
                await asyncio.sleep(d.latency_ms / 1000)
            for index, frame in enumerate(frames):
                content_index = index - 1  # frame 0 is the role chunk
                # The pause comes before the break too: a reader that gets the last chunks and
                # the reset in one read (aiohttp raises the reset before its buffered bytes)
                # would otherwise lose them, and a "break after N chunks" would deliver none.
                if d.chunk_delay_ms and index > 0:
                    await asyncio.sleep(d.chunk_delay_ms / 1000)
                if d.break_after is not None and content_index >= d.break_after:
                    recorder.event(seq, "broke")
                    raise BrokenStream
                if d.stall_after is not None and content_index >= d.stall_after:
                    await asyncio.sleep(3600)
                yield frame
            recorder.event(seq, "completed")
        except asyncio.CancelledError:
            recorder.event(seq, "disconnected")
            raise

    async def stall_until_disconnect(request: Request, seq: int) -> Response:
        # The body is read, so the next message the server gives us is the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass
        recorder.event(seq, "disconnected")
        return Response(status_code=499)

    async def get_requests(request: Request) -> Response:
        return JSONResponse(list(recorder.requests))

    async def get_events(request: Request) -> Response:
        return JSONResponse(list(recorder.events))

    async def clear(request: Request) -> Response:
        recorder.requests.clear()
        recorder.events.clear()
        return Response(status_code=204)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    routes = [
        Route("/v1/models", list_models),
        Route("/models", list_models),
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/chat/completions", chat_completions, methods=["POST"]),
        Route("/_fake/requests", get_requests),
        Route("/_fake/requests", clear, methods=["DELETE"]),
        Route("/_fake/events", get_events),
        Route("/health", health),
    ]
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated model ids")
    args = parser.parse_args()
    app = create_app(tuple(m for m in args.models.split(",") if m))
    # Like a provider's edge, hold idle connections longer than any client pool keeps them
    # (LiteLLM's aiohttp pool: 120 s); a shorter keep-alive makes the server close
    # connections a busy client is about to reuse, which fails requests at random.
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", timeout_keep_alive=600)


if __name__ == "__main__":
    main()
