"""The audit writer: rows leave the request path at once and reach the store in batches.

    request_finished(record) ─┬─ append (one buffered write) ──► journal (api/audit/journal.py)
       (before the answer's    │                                    ▲ stored rows deleted │ leftovers, overflow
        last byte is sent)     └─ put_nowait ──► bounded queue ──► background task ──INSERT batch──► store
                                    queue full: the row is on disk only ───────┘   store down: retry with backoff

The request path never awaits: it appends the row to this process's journal (so a killed
process loses nothing) and enqueues it for the next batch; when the queue is full the
journal alone holds it and is read back later. Every insert is `ON CONFLICT (request_id)
DO NOTHING`, so a batch retried after a timeout, or a journal replayed twice, never
duplicates a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog

from api.audit.journal import Journal, Segment
from api.audit.row import Row, audit_row, is_audited, row_to_json
from api.audit.store import AuditStore, AuditStoreUnavailable, RowsRejected
from api.request_record import RequestRecord

log = structlog.get_logger(__name__)

RETRY_INITIAL_SECONDS = 0.2
RETRY_MAX_SECONDS = 2.0
#: The longest start-up waits for the first migration attempt (a store that does not answer).
STARTUP_WAIT_SECONDS = 5.0
#: A queue fuller than this is reported as `degraded` by the readiness check.
BACKLOG_WARNING_FRACTION = 0.8
#: Dropped rows are logged on the first and then on every this-many-th (an outage would flood the log).
DROP_LOG_EVERY = 1000

Entry = tuple[Row, Segment | None]  # a queued row and the journal segment holding it (None: memory only)


@dataclass(frozen=True, slots=True)
class AuditStats:
    """Counters for the metrics: rows waiting in memory, stored, held on disk only, lost; journal size."""

    queue_depth: int
    rows_written: int
    rows_spilled: int
    rows_dropped: int
    journal_bytes: int = 0


@dataclass(frozen=True, slots=True)
class WriterLimits:
    queue_size: int
    batch_size: int
    flush_interval: float
    drain_deadline: float


class AuditWriter:
    """A `RequestObserver` that records every chat completion in the audit store."""

    def __init__(self, store: AuditStore, journal: Journal, limits: WriterLimits, *, migrate: bool) -> None:
        self.store = store
        self.journal = journal
        self.limits = limits
        self.migrate = migrate
        self.last_error: str | None = None
        self._queue: asyncio.Queue[Entry] = asyncio.Queue(limits.queue_size)
        self._wake = asyncio.Event()
        self._first_attempt = asyncio.Event()  # the schema is ready, or the store failed once
        self._in_flight: list[Entry] = []
        self._task: asyncio.Task[None] | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._closing = False
        self._closed = False
        self._replay_broken = False
        self._written = self._spilled = self._dropped = 0

    # ---- the request path: never awaits, never raises ----------------------------------

    def request_finished(self, record: RequestRecord) -> None:
        if not is_audited(record):
            return
        if self._closed:
            self._drop(1, "closed")
            return
        row = audit_row(record)
        segment = self.journal.append(row_to_json(row))
        try:
            self._queue.put_nowait((row, segment))
        except asyncio.QueueFull:
            if segment is None:
                self._drop(1, "queue and journal full")
                return
            segment.overflowed = True  # the journal alone holds it: read back later
            self._spilled += 1
            return
        if segment is not None:
            segment.unstored += 1
        self._wake.set()

    def stats(self) -> AuditStats:
        return AuditStats(self._queue.qsize(), self._written, self._spilled, self._dropped, self.journal.size)

    @property
    def behind(self) -> bool:
        """Rows are waiting longer than usual: on disk, in a nearly full queue, or on a failing store."""
        nearly_full = self._queue.qsize() >= BACKLOG_WARNING_FRACTION * self.limits.queue_size
        return self.last_error is not None or self.journal.pending or nearly_full

    @property
    def _replay_due(self) -> bool:
        return self.journal.pending and not self._replay_broken and not self._closing

    # ---- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Open the journal and the store, start the background tasks, wait briefly for the schema.

        A store that is down does not stop the start-up: the task keeps trying, and rows
        wait in the queue and the journal meanwhile.
        """
        self.journal.open()
        self.store.open()
        self._task = asyncio.create_task(self._run(), name="audit-writer")
        self._task.add_done_callback(_report_end)
        self._sync_task = asyncio.create_task(self._sync_journal(), name="audit-journal-sync")
        self._sync_task.add_done_callback(_report_end)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STARTUP_WAIT_SECONDS):
                await self._first_attempt.wait()
        if self.last_error is not None or not self._first_attempt.is_set():
            log.warning("audit_store_not_ready", store=self.store.target, error=self.last_error)

    async def close(self) -> None:
        """Write what is queued within the drain deadline; the rest stays in the journal for the next start."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            if self._in_flight or not self._queue.empty():  # else nothing to drain: do not wait on a dead store
                await asyncio.wait({self._task}, timeout=self.limits.drain_deadline)
            self._task.cancel()
            await asyncio.wait({self._task})
        if self._sync_task is not None:
            self._sync_task.cancel()
            await asyncio.wait({self._sync_task})
        self._closed = True
        leftover = self._in_flight + [self._queue.get_nowait() for _ in range(self._queue.qsize())]
        self._in_flight = []
        in_memory_only = sum(1 for _, segment in leftover if segment is None)
        if in_memory_only:
            self._drop(in_memory_only, "not journaled at shutdown")
        if len(leftover) > in_memory_only:
            log.warning("audit_rows_left_in_journal", rows=len(leftover) - in_memory_only, slot=self.journal.slot)
        self.journal.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0):
                await self.store.close()

    # ---- the background task -----------------------------------------------------------

    async def _run(self) -> None:
        if self.migrate:
            await self._until_stored(self.store.migrate)
        self._first_attempt.set()
        while True:
            batch = await self._collect()
            if batch:
                await self._until_stored(self._insert, [row for row, _ in batch])
                self.journal.stored(segment for _, segment in batch)
                self._in_flight = []
            elif self._closing:
                return
            await self.journal.rotate_if_due()
            if self._replay_due:
                await self._replay_batch()

    async def _sync_journal(self) -> None:
        """fsync the journal once per flush interval, also while the store is down (power-loss safety)."""
        while True:
            await asyncio.sleep(self.limits.flush_interval)
            try:
                await self.journal.sync()
            except OSError as exc:
                log.error("audit_journal_sync_failed", error=str(exc))

    async def _collect(self) -> list[Entry]:
        """Wait for a full batch, or for `flush_interval` after the first row; [] when idle with rows to replay."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while not self._closing and self._queue.qsize() < self.limits.batch_size:
            if self._queue.empty():
                if self._replay_due:
                    break
                timeout = None
            else:
                deadline = deadline or loop.time() + self.limits.flush_interval
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
            self._wake.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                break
        # Taken with get_nowait and held in _in_flight before any await: a cancel cannot lose them.
        count = min(self.limits.batch_size, self._queue.qsize())
        self._in_flight = [self._queue.get_nowait() for _ in range(count)]
        return self._in_flight

    async def _replay_batch(self) -> None:
        try:
            rows = await self.journal.read_batch(self.limits.batch_size)
        except OSError as exc:
            # The rows stay on disk for the next start; retrying a broken file here would spin.
            self._replay_broken = True
            log.error("audit_journal_unreadable", folder=str(self.journal.folder), error=str(exc))
            return
        if rows:
            await self._until_stored(self._insert, rows)

    async def _insert(self, rows: list[Row]) -> None:
        try:
            self._written += await self.store.insert(rows)
        except RowsRejected:
            for row in rows:  # find the row the store refuses; keep the others
                try:
                    self._written += await self.store.insert([row])
                except RowsRejected as exc:
                    self._dropped += 1
                    log.error("audit_row_rejected", request_id=row.get("request_id"), error=str(exc))

    async def _until_stored(self, operation: Callable[..., Awaitable[None]], *args: list[Row]) -> None:
        """Run `operation(*args)` until the store accepts it, backing off while it is down."""
        delay = RETRY_INITIAL_SECONDS
        while True:
            try:
                await operation(*args)
            except AuditStoreUnavailable as exc:
                self._failed(exc.message)
            except Exception as exc:
                # A bug must not end the task: log it, and treat it like an outage.
                log.exception("audit_writer_failed")
                self._failed(repr(exc))
            else:
                if self.last_error is not None:
                    log.info("audit_store_recovered", store=self.store.target)
                self.last_error = None
                return
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _failed(self, error: str) -> None:
        if self.last_error is None:
            log.warning("audit_store_unavailable", store=self.store.target, error=error, queued=self._queue.qsize())
        self.last_error = error
        self._first_attempt.set()

    def _drop(self, rows: int, reason: str) -> None:
        before = self._dropped
        self._dropped += rows
        if before == 0 or before // DROP_LOG_EVERY != self._dropped // DROP_LOG_EVERY:
            log.error("audit_rows_lost", rows=rows, reason=reason, dropped_total=self._dropped)


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("audit_writer_stopped", error=repr(task.exception()))
