"""The shutdown drain as a value: what it refuses, what it waits for, what it cuts."""

from __future__ import annotations

import asyncio

from api.lifecycle.drain import Drain, draining_error

CHAT = "/v1/chat/completions"


def test_nothing_is_refused_until_the_drain_begins_and_probes_never_are():
    drain = Drain(deadline=1.0)
    assert not drain.refuses(CHAT)
    drain.draining = True
    assert drain.refuses(CHAT)
    assert drain.refuses("/v1/models")
    for path in ("/health", "/health/ready", "/metrics"):
        assert not drain.refuses(path), path


def test_the_error_is_the_contracts_retryable_draining_503():
    error = draining_error()
    assert (error.status_code, error.error_type, error.code, error.retryable) == (
        503,
        "service_unavailable",
        "draining",
        True,
    )


async def test_an_idle_gateway_drains_at_once():
    drain = Drain(deadline=60.0)
    await asyncio.wait_for(drain.run(), 5)  # a wait for the 60 s deadline would time out here
    assert drain.draining


async def test_probes_are_not_waited_for():
    drain = Drain(deadline=60.0)
    drain.track("/health/ready", lambda: None)
    assert drain.in_flight == 0
    await asyncio.wait_for(drain.run(), 5)


async def test_the_drain_ends_when_the_last_request_finishes_without_cutting_it():
    drain = Drain(deadline=60.0)
    cuts: list[str] = []
    first = drain.track(CHAT, lambda: cuts.append("first"))
    second = drain.track(CHAT, lambda: cuts.append("second"))
    running = asyncio.create_task(drain.run())
    await asyncio.sleep(0)
    assert drain.draining
    assert drain.in_flight == 2
    drain.finished(first)
    await asyncio.sleep(0)
    assert not running.done()
    drain.finished(second)
    await asyncio.wait_for(running, 5)
    assert cuts == []
    assert not first.was_cut


async def test_at_the_deadline_each_request_left_is_cut_the_way_it_asked():
    drain = Drain(deadline=0.01)
    cuts: list[str] = []
    loop = asyncio.get_running_loop()

    def cut(how: str, entry: list) -> None:
        cuts.append(how)
        loop.call_soon(drain.finished, entry[0])  # the request ends soon after its cut

    plain_ref: list = []
    stream_ref: list = []
    plain = drain.track(CHAT, lambda: cut("request scope", plain_ref))
    stream = drain.track(CHAT, lambda: cut("request scope", stream_ref))
    plain_ref.append(plain)
    stream_ref.append(stream)
    stream.cut_with(lambda: cut("stream relay", stream_ref))

    await asyncio.wait_for(drain.run(), 10)
    assert plain.was_cut
    assert stream.was_cut
    assert sorted(cuts) == ["request scope", "stream relay"]
    assert drain.in_flight == 0


async def test_a_second_run_does_nothing():
    drain = Drain(deadline=60.0)
    entry = drain.track(CHAT, lambda: None)
    first = asyncio.create_task(drain.run())
    await asyncio.sleep(0)
    await asyncio.wait_for(drain.run(), 1)  # returns at once: the first run owns the drain
    drain.finished(entry)
    await asyncio.wait_for(first, 5)
