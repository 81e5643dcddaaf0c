"""The audit store's part of `/health/ready`: never critical, a dead store only degrades the audit."""

from __future__ import annotations

from api.audit.store import AuditStoreUnavailable
from api.audit.writer import AuditWriter
from api.readiness import ComponentHealth


class AuditStoreCheck:
    """`down`: the store does not answer (or has no table); `degraded`: it answers but rows are waiting."""

    critical = False

    def __init__(self, writer: AuditWriter) -> None:
        self.writer = writer

    async def check(self) -> ComponentHealth:
        stats = self.writer.stats()
        backlog = f"{stats.queue_depth} rows queued, spill file {'in use' if self.writer.spill.pending else 'empty'}"
        try:
            await self.writer.store.ping()
        except AuditStoreUnavailable as exc:
            return ComponentHealth("down", f"{exc.message} ({backlog})")
        if self.writer.behind:
            return ComponentHealth("degraded", f"catching up: {backlog}")
        return ComponentHealth("ok")
