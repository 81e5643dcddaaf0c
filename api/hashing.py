"""Stable fingerprints of JSON values: the same value always hashes the same, key order aside."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import orjson


def canonical_sha256(value: Any, key: bytes | None = None) -> str:
    """sha256 (hex) of the canonical JSON of `value` (keys sorted, no whitespace).

    With `key` it is HMAC-SHA256: without the key, a guessed value cannot be checked against it.
    """
    canonical = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    if key is not None:
        return hmac.new(key, canonical, hashlib.sha256).hexdigest()
    return hashlib.sha256(canonical).hexdigest()
