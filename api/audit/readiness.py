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
        on_disk = "rows waiting on disk" if self.writer.journal.pending else "nothing waiting on disk"
        backlog = f"{stats.queue_depth} rows queued, journal {stats.journal_bytes} bytes, {on_disk}"
        try:
            await self.writer.store.ping()
        except AuditStoreUnavailable as exc:
            return ComponentHealth("down", f"{exc.message} ({backlog})")
        if self.writer.behind:
            return ComponentHealth("degraded", f"catching up: {backlog}")
        return ComponentHealth("ok")
