"""What one upstream call cost in USD (contract section 10): pure, no I/O.

The sources, first one that answers wins:

1. LiteLLM's `x-litellm-response-cost` header: LiteLLM knows the deployment's real price
   (custom prices, discounts, margins). It sends it on non-streamed answers only: a stream's
   headers leave before its usage is known.
2. `usage.cost`, the same figure in a stream's final usage chunk (LiteLLM puts it there;
   so do providers such as OpenRouter, on every answer).
3. The maintained price table `genai-prices`, from the call's usage and the model the
   upstream answered with (it is the most precise name: `gpt-4o-2024-08-06` rather than an
   alias), cached prompt tokens priced as cache reads.

A model neither knows is unknown: `None`, never a guessed number. The table caches the
models it finds but searches every provider again for one it does not know, so the
unknown ones (LiteLLM aliases, local models) are remembered here.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

from genai_prices import Usage, calc_price

COST_HEADER = "x-litellm-response-cost"


def call_cost(headers: Mapping[str, str] | None, usage: Mapping[str, Any] | None, model: str | None) -> float | None:
    """USD of one call from its response headers, its usage and the upstream model; None when unknown."""
    reported = _amount(headers.get(COST_HEADER)) if headers is not None else None
    if reported is None and usage:
        reported = _amount(usage.get("cost"))
    if reported is not None:
        return reported
    if not usage or not model:
        return None
    return table_price(usage, model)


def table_price(usage: Mapping[str, Any], model: str) -> float | None:
    """The price table's USD for an OpenAI-shaped `usage`; None for a model it does not know."""
    details = usage.get("prompt_tokens_details") or {}
    tokens = Usage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cache_read_tokens=int(details.get("cached_tokens") or 0),
        cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
    )
    provider, _, name = model.rpartition("/")  # LiteLLM-style `openai/gpt-4o`
    if not _in_table(name, provider or None):
        return None
    try:
        price = calc_price(tokens, model_ref=name, provider_id=provider or None)
    except LookupError:
        return None
    return float(price.total_price)


@functools.lru_cache(maxsize=1024)  # bounded: clients choose the model names
def _in_table(name: str, provider: str | None) -> bool:
    """Whether the price table knows the model (asked once per name and provider)."""
    try:
        calc_price(Usage(), model_ref=name, provider_id=provider)
    except LookupError:
        return False
    return True


def load_price_table() -> None:
    """Load the price table now: its first use imports it, a second's work that must not
    happen on the event loop while requests wait (the start-up runs this in a thread)."""
    table_price({"prompt_tokens": 1}, "gpt-4o")


def _amount(value: Any) -> float | None:
    """A reported cost as a float; None for anything that is not a finite, non-negative number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return None
    return amount if math.isfinite(amount) and amount >= 0 else None
