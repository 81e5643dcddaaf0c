"""At start-up: every model the routing policy sends requests to must be one the upstream serves.

A rule that names a model LiteLLM does not list would fail each request it matches; the
start-up fails instead, naming the rule's model and what LiteLLM serves. An upstream that
does not answer within `WAIT_SECONDS` (it may be starting beside us, as in `make run`) is
not a reason to stop: the check is skipped with a warning, and readiness says the upstream
is down.
"""

from __future__ import annotations

import asyncio

import httpx2
import openai
import orjson
import structlog
from openai import AsyncOpenAI

from api.policy.config import RoutingPolicyConfig, RoutingPolicyError

log = structlog.get_logger(__name__)

WAIT_SECONDS = 15.0
ATTEMPT_SECONDS = 2.0


async def check_policy_models(llm: AsyncOpenAI, policy: RoutingPolicyConfig, wait: float = WAIT_SECONDS) -> None:
    wanted = policy.models
    if not wanted:
        return
    served = await _served_models(llm, wait)
    if served is None:
        log.warning("routing_policy_unchecked", models=sorted(wanted), hint="the upstream did not list its models")
        return
    missing = sorted(wanted - served)
    if missing:
        raise RoutingPolicyError(
            f"{policy.source}: the routing policy sends requests to {missing}, which the upstream does not serve "
            f"(it serves {sorted(served)}); add them to LiteLLM's model_list or change the rules"
        )


async def _served_models(llm: AsyncOpenAI, wait: float) -> set[str] | None:
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            response = await llm.get(
                "/models", cast_to=httpx2.Response, options={"timeout": ATTEMPT_SECONDS, "max_retries": 0}
            )
            return {str(m.get("id")) for m in orjson.loads(response.content).get("data") or [] if isinstance(m, dict)}
        except (openai.APIConnectionError, httpx2.TransportError):
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(0.5)
        except (openai.APIError, httpx2.HTTPError, orjson.JSONDecodeError) as exc:
            log.warning("routing_policy_unchecked", error=f"{type(exc).__name__}: {exc}")
            return None
