"""Pooled connections left idle, through the real stack: openai SDK → gateway → LiteLLM → fake model.

Every hop pools its connections and every server closes idle ones after its keep-alive.
A request sent on a connection the server is closing fails with a connection error, so
each pool must give an idle connection up before its server does: the SDK (5 s) before
the gateway (`--timeout-keep-alive 75`), the gateway (`LLM_KEEPALIVE_EXPIRY`, 4 s) before
LiteLLM (uvicorn's 5 s), LiteLLM's aiohttp pool (120 s) before the fake model (600 s).
With any pair the wrong way round, bursts after pauses of about five seconds lose a few
requests in every round; with none of the SDK's or LiteLLM's retries to hide them.
"""

from __future__ import annotations

import asyncio

import openai

from tests.conftest import TOKEN

PAUSES = (4.8, 4.9, 5.0, 5.1, 5.2)  # around the 5 s keep-alive of uvicorn and httpx
BURST = 40


async def test_bursts_after_idle_pauses_near_the_keep_alive_all_succeed(launch_gateway):
    gateway = launch_gateway()
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0, timeout=30)
    failures: list[str] = []

    async def one(round_: int) -> None:
        try:
            await client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": f"round {round_}"}]
            )
        except openai.OpenAIError as error:
            failures.append(f"round {round_}: {type(error).__name__}: {error}")

    for round_, pause in enumerate((0.0, *PAUSES)):
        await asyncio.sleep(pause)
        await asyncio.gather(*(one(round_) for _ in range(BURST)))
    await client.close()

    assert failures == []
