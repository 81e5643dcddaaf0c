"""Pooled connections left idle, through the real stack: openai SDK → gateway → LiteLLM → fake model.

Every hop pools its connections and every server closes idle ones after its keep-alive.
A request sent on a connection the server is closing fails with a connection error, so
each pool must give an idle connection up before its server does: the SDK (5 s) before
the gateway (`--timeout-keep-alive 75`), the gateway (`LLM_KEEPALIVE_EXPIRY`, 4 s) before
LiteLLM (uvicorn's 5 s), LiteLLM's aiohttp pool (120 s) before the fake model (600 s).
With any pair the wrong way round, bursts after pauses of about five seconds lose a few
requests in every round; with none of the SDK's or LiteLLM's retries to hide them.

A request that fails says how far it got (the gateway's log lines for its id, whether the
model saw it), so a failure on a CI machine names the hop that lost it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import openai

from tests.conftest import TOKEN
from tests.support.fake_upstream import FakeUpstream

PAUSES = (4.8, 4.9, 5.0, 5.1, 5.2)  # around the 5 s keep-alive of uvicorn and httpx
BURST = 40


def how_far_it_got(request_id: str, gateway_log: str, fake: FakeUpstream, litellm_log: Path) -> str:
    lines = [line for line in gateway_log.splitlines() if request_id in line]
    seen = len(fake.requests_with(f"[{request_id}]"))
    tail = litellm_log.read_text(errors="replace").splitlines()[-5:] if litellm_log.exists() else []
    return f"{request_id}: the model saw it {seen}×; gateway log: {lines}; LiteLLM log ends: {tail}"


async def test_bursts_after_idle_pauses_near_the_keep_alive_all_succeed(
    launch_gateway, fake_upstream: FakeUpstream, logs_dir: Path
):
    gateway = launch_gateway()
    client = openai.AsyncOpenAI(base_url=gateway.base_url, api_key=TOKEN, max_retries=0, timeout=30)
    failures: dict[str, str] = {}

    async def one(request_id: str) -> None:
        try:
            await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": f"idle burst [{request_id}]"}],
                extra_headers={"X-Client-Request-Id": request_id},
            )
        except openai.OpenAIError as error:
            failures[request_id] = f"{type(error).__name__}: {error}"

    for round_, pause in enumerate((0.0, *PAUSES)):
        await asyncio.sleep(pause)
        await asyncio.gather(*(one(f"idle-r{round_}-{i}") for i in range(BURST)))
    await client.close()

    if failures:
        await asyncio.sleep(1)  # the gateway logs a request once it ends, also one its client left
        logs = gateway.logs()
        for request_id, error in failures.items():
            print(error, "|", how_far_it_got(request_id, logs, fake_upstream, logs_dir / "litellm.log"))
    assert failures == {}
