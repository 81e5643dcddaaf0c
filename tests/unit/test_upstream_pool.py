"""`PoolAdmission`: a full pool raises `httpx2.PoolTimeout` (503 `overloaded`), whatever the transport."""

from __future__ import annotations

import httpx2
import pytest

from api.upstream.pool import PoolAdmission


async def body():
    yield b"ok"


def answer(request: httpx2.Request) -> httpx2.Response:
    # A body still to be read, as from a real connection (not a preloaded one).
    return httpx2.Response(200, content=body())


def client(max_connections: int, handler=answer) -> httpx2.AsyncClient:
    transport = httpx2.MockTransport(handler)
    return httpx2.AsyncClient(transport=PoolAdmission(transport, max_connections), timeout=httpx2.Timeout(5, pool=0.05))


async def test_a_call_past_the_limit_raises_pool_timeout_naming_the_settings():
    async with client(2) as http:
        held = [await http.send(http.build_request("GET", "http://up/"), stream=True) for _ in range(2)]
        with pytest.raises(httpx2.PoolTimeout, match=r"all 2 upstream connections.*LLM_MAX_CONNECTIONS"):
            await http.get("http://up/")
        for response in held:
            await response.aclose()


async def test_a_stream_holds_its_slot_until_closed_and_closing_twice_frees_one():
    async with client(1) as http:
        stream = await http.send(http.build_request("GET", "http://up/"), stream=True)
        with pytest.raises(httpx2.PoolTimeout):
            await http.get("http://up/")
        await stream.aclose()
        await stream.aclose()
        assert (await http.get("http://up/")).content == b"ok"
        # One slot only: a double close did not free a second one.
        stream = await http.send(http.build_request("GET", "http://up/"), stream=True)
        with pytest.raises(httpx2.PoolTimeout):
            await http.get("http://up/")
        await stream.aclose()


async def test_whole_answers_free_their_slot_and_so_do_failed_calls():
    def refuse(request: httpx2.Request) -> httpx2.Response:
        if request.url.path == "/down":
            raise httpx2.ConnectError("refused", request=request)
        return answer(request)

    async with client(1, refuse) as http:
        for _ in range(3):
            assert (await http.get("http://up/")).content == b"ok"
            with pytest.raises(httpx2.ConnectError):
                await http.get("http://up/down")
