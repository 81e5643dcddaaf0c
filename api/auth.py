"""Bearer-token checks as plain functions (the middleware applies them)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence


def bearer_token(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def token_accepted(token: str | None, accepted: Sequence[bytes]) -> bool:
    """Constant-time membership: every accepted token is compared, match or not."""
    if token is None:
        return False
    candidate = token.encode()
    matched = False
    for expected in accepted:
        matched |= hmac.compare_digest(candidate, expected)
    return matched


def client_id_for(token: str) -> str:
    """A short, stable, non-reversible id of a bearer token for audit rows and logs."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]
