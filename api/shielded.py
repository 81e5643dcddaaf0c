"""Cleanup that must finish even while the request that owns it is being cancelled."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import structlog

log = structlog.get_logger(__name__)

CLEANUP_DEADLINE_SECONDS = 2.0


async def close_shielded(close: Callable[[], Awaitable[object]]) -> None:
    """Await `close()` shielded from cancellation, bounded by a deadline, never raising.

    A client disconnect cancels the whole request; without the shield, the first await
    in a `finally` would be cancelled too and the upstream connection left open.
    """
    with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_DEADLINE_SECONDS):
        try:
            await close()
        except Exception as exc:
            # Cleanup of a connection that already failed may fail again; nothing to add.
            log.debug("close_failed", error=repr(exc))
