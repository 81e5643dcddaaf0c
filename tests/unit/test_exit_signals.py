"""The SIGTERM hook in front of uvicorn's handler: drain first, then uvicorn's shutdown, exit 0."""

from __future__ import annotations

import asyncio
import signal

import uvicorn

from api.lifecycle.signals import drain_on_exit_signals


def uvicorn_server() -> uvicorn.Server:
    return uvicorn.Server(uvicorn.Config(app=lambda scope, receive, send: None))


async def test_the_first_sigterm_drains_then_lets_uvicorn_exit_without_re_raising():
    server = uvicorn_server()
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
    drained = asyncio.Event()
    release = asyncio.Event()

    async def drain() -> None:
        drained.set()
        await release.wait()

    try:
        with drain_on_exit_signals(drain):
            hook = signal.getsignal(signal.SIGTERM)
            assert hook != server.handle_exit, "the hook is in front of uvicorn's handler"
            signal.raise_signal(signal.SIGTERM)
            await asyncio.wait_for(drained.wait(), 5)
            assert not server.should_exit, "uvicorn waits while the drain runs"
            release.set()
            for _ in range(10):  # a few turns of the loop: the drain task ends
                await asyncio.sleep(0)
            assert server.should_exit, "the drain over, uvicorn's shutdown starts"
            # uvicorn re-raises the signals it captured once it has shut down: none, so exit 0.
            assert server._captured_signals == []
        assert signal.getsignal(signal.SIGTERM) == server.handle_exit, "uvicorn's handler is back"
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def test_a_second_signal_goes_to_uvicorn_at_once():
    server = uvicorn_server()
    previous = {sig: signal.signal(sig, server.handle_exit) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with drain_on_exit_signals(lambda: asyncio.Event().wait()):
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            assert server.should_exit
            assert server._captured_signals == [signal.SIGINT]
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def test_nothing_is_installed_when_uvicorn_does_not_own_the_signals():
    before = signal.getsignal(signal.SIGTERM)
    with drain_on_exit_signals(lambda: asyncio.sleep(0)):
        assert signal.getsignal(signal.SIGTERM) == before
