"""Stable fingerprints of JSON values: the same value always hashes the same, key order aside."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def canonical_sha256(value: Any) -> str:
    """sha256 (hex) of the canonical JSON of `value` (keys sorted, no whitespace)."""
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()
