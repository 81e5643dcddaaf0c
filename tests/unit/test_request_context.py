"""The request-context middleware finishes each record once, before the answer's last bytes leave.

That order is what makes the audit journal's promise hold: the row is on disk before a client
can hold a complete answer (tests/reliability/test_audit_durability.py kills real processes).
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from api.lifecycle.drain import Drain
from api.middleware.request_context import RequestContextMiddleware
from api.request_record import RequestRecord

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/v1/chat/completions", "headers": []}


class Recorder:
    """An observer and the server's `send`, writing into one timeline."""

    def __init__(self) -> None:
        self.timeline: list[tuple[str, object]] = []

    def request_finished(self, record: RequestRecord) -> None:
        self.timeline.append(("finished", record.status))

    async def send(self, message: Message) -> None:
        self.timeline.append(("sent", message.get("body")))


async def receive() -> Message:
    return {"type": "http.request", "body": b"{}", "more_body": False}


async def run(app, recorder: Recorder) -> None:
    await RequestContextMiddleware(app, [recorder], Drain(deadline=1.0))(dict(SCOPE), receive, recorder.send)


async def test_a_stream_is_finished_just_before_its_done_frame_is_sent():
    async def stream(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})

    recorder = Recorder()
    await run(stream, recorder)
    assert recorder.timeline == [
        ("sent", None),
        ("sent", b"data: {}\n\n"),
        ("finished", "ok"),
        ("sent", b"data: [DONE]\n\n"),
    ]


async def test_a_failure_after_the_answer_completed_does_not_finish_it_twice():
    async def answer_then_fail(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}", "more_body": False})
        raise RuntimeError("a bug in a cleanup after the answer")

    recorder = Recorder()
    await run(answer_then_fail, recorder)
    assert recorder.timeline == [("sent", None), ("finished", "ok"), ("sent", b"{}")]


async def test_a_request_that_ends_without_an_answer_is_finished_once_all_the_same():
    async def fail_first(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("a bug before any byte")

    recorder = Recorder()
    await run(fail_first, recorder)
    assert [event for event, _ in recorder.timeline] == ["sent", "finished", "sent"]  # the 500's start, its body
    assert ("finished", "error") in recorder.timeline
