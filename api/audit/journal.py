"""The audit journal: every row on local disk before its answer completes, until the store has it.

    append(line) ──one write(2)──► active segment   journal-<slot>-<seq>.jsonl
                                        │ rotated by the writer once large (or holding rows the queue could not)
                                        ▼
                                  sealed segments ──── every row stored ────► deleted
    segments of an earlier run,  ──► replay list ──── read back in batches, stored ────► deleted
    of a dead process, or overflowed

Each process claims a *slot*: the first `journal-<n>.lock` in the folder it can `flock`.
One setting (`AUDIT_JOURNAL_DIR`) thus serves `uvicorn --workers N`, restarted workers and
replicas sharing a volume, and no two processes ever write one file. At start a process
replays its slot's leftovers and takes over (renames into its own slot) the segments of
every slot whose lock nobody holds: their owner died, and its rows must not be stranded.

Durability: an append is one buffered write to the page cache, made before the last byte
of the answer is sent, so it survives the process being killed. `sync()` fsyncs in the
background once per flush interval: a power loss can lose the rows of that interval.
A replay may insert rows the store already has; inserts are idempotent by request_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import structlog

from api.audit.row import Row, row_from_json

log = structlog.get_logger(__name__)

#: A segment this large is sealed, so the rows it holds can be deleted once stored.
SEGMENT_BYTES = 4 * 1024 * 1024
MAX_SLOTS = 1024
_SEGMENT = re.compile(r"^journal-(\d+)-(\d+)\.jsonl$")


class JournalError(RuntimeError):
    """The journal folder cannot be used (not writable, or every slot is taken)."""


@dataclass(eq=False, slots=True)
class Segment:
    """One journal file and what the writer still owes it."""

    path: Path
    size: int = 0
    #: Rows of this file waiting in the writer's memory (queued or in hand), not yet stored.
    unstored: int = 0
    #: Some rows are only in this file (the queue was full): it must be read back.
    overflowed: bool = False
    handle: BinaryIO | None = None
    dirty: bool = False  # written since the last fsync


class Journal:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.slot: int | None = None
        self._lock: BinaryIO | None = None
        self._active: Segment | None = None
        self._next_seq = 1
        self._sealed: list[Segment] = []
        self._replay: deque[Segment] = deque()
        self._reader: BinaryIO | None = None
        self._bytes = 0
        self._full = False

    @property
    def size(self) -> int:
        """Bytes in this process's journal files (the `audit_journal_bytes` gauge)."""
        return self._bytes

    @property
    def pending(self) -> bool:
        """Rows wait on disk only: a replay has something to do."""
        overflowed = self._active is not None and self._active.overflowed
        return overflowed or bool(self._replay)

    @property
    def path(self) -> Path | None:
        """The segment appends go to (for logs and tests)."""
        return self._active.path if self._active is not None else None

    # ---- start and stop ------------------------------------------------------------------

    def open(self) -> None:
        """Claim a slot, take over the leftovers of this slot and of dead ones, start a segment."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._claim_slot()
            self._take_leftovers()
            self._active = self._new_segment()
        except OSError as exc:
            raise JournalError(f"AUDIT_JOURNAL_DIR {self.folder} cannot be used: {exc}") from None
        if self._replay:
            log.info("audit_journal_replaying", slot=self.slot, files=len(self._replay), bytes=self._bytes)

    def close(self) -> None:
        """Make every append durable and let the slot go; unstored rows stay for the next start."""
        if self._reader is not None:
            self._reader.close()  # a replay cut short: that file is read again next time
            self._reader = None
        for segment in (self._active, *self._sealed):
            if segment is not None and segment.handle is not None:
                os.fsync(segment.handle.fileno())
                segment.handle.close()
                segment.handle = None
                if segment.size == 0:
                    segment.path.unlink(missing_ok=True)
        self._active = None
        if self._lock is not None:
            self._lock.close()  # releases the flock: the slot is free for the next process
            self._lock = None

    # ---- the request path ----------------------------------------------------------------

    def append(self, line: bytes) -> Segment | None:
        """Write one row's JSON line; the segment it went to, or None when it could not be journaled.

        Synchronous and small (one write to the page cache): it runs on the request's task.
        """
        segment = self._active
        if segment is None or segment.handle is None or self.max_bytes <= 0:
            return None
        data = line + b"\n"
        if self._bytes + len(data) > self.max_bytes:
            if not self._full:
                self._full = True
                log.error("audit_journal_full", folder=str(self.folder), bytes=self._bytes, limit=self.max_bytes)
            return None
        try:
            segment.handle.write(data)
            segment.handle.flush()
        except OSError as exc:
            log.error("audit_journal_write_failed", path=str(segment.path), error=str(exc))
            return None
        segment.size += len(data)
        segment.dirty = True
        self._bytes += len(data)
        return segment

    # ---- the writer's side ---------------------------------------------------------------

    def stored(self, segments: Iterable[Segment | None]) -> None:
        """Rows taken from memory are in the store (one segment per row): delete what is done."""
        for segment in segments:
            if segment is not None:
                segment.unstored -= 1
        for segment in [s for s in self._sealed if s.unstored <= 0 and not s.overflowed]:
            self._sealed.remove(segment)
            self._delete(segment)
        active = self._active
        done = active is not None and active.size and not active.unstored and not active.overflowed
        if done and active is not None and active.handle is not None:
            # Everything it holds is stored: start it over rather than let it grow.
            active.handle.truncate(0)
            self._freed(active)

    async def rotate_if_due(self) -> None:
        """Seal the active segment when it is large, or holds rows only on disk (to replay them)."""
        old = self._active
        if old is None or old.handle is None or not (old.size >= SEGMENT_BYTES or old.overflowed):
            return
        self._active = self._new_segment()
        handle, old.handle = old.handle, None
        await asyncio.to_thread(_fsync_file_and_folder, handle.fileno(), self.folder)  # the new name too
        handle.close()
        if old.overflowed:
            self._replay.append(old)
        elif old.unstored <= 0:
            self._delete(old)
        else:
            self._sealed.append(old)

    async def sync(self) -> None:
        """fsync the active segment (and the folder: its name) if written since the last time, off the loop."""
        segment = self._active
        if segment is None or segment.handle is None or not segment.dirty:
            return
        segment.dirty = False
        fd = os.dup(segment.handle.fileno())  # stays valid if the segment is rotated meanwhile
        try:
            await asyncio.to_thread(_fsync_file_and_folder, fd, self.folder)
        finally:
            os.close(fd)

    async def read_batch(self, size: int) -> list[Row]:
        """The next rows to replay (at most `size`); [] once every file on the replay list is done.

        Call it again only after the previous batch is stored: reaching the end of a file is
        what deletes it.
        """
        while self._replay:
            if self._reader is None:
                self._reader = self._replay[0].path.open("rb")
            rows = await asyncio.to_thread(_read_rows, self._reader, size, self._replay[0].path)
            if rows:
                return rows
            self._reader.close()
            self._reader = None
            self._delete(self._replay.popleft())
        return []

    # ---- files and slots -----------------------------------------------------------------

    def _claim_slot(self) -> None:
        for slot in range(MAX_SLOTS):
            lock = self._try_lock(slot)
            if lock is not None:
                lock.truncate(0)
                lock.write(f"{os.getpid()}\n".encode())  # who holds it, for operators and tests
                lock.flush()
                self.slot, self._lock = slot, lock
                return
        raise JournalError(f"AUDIT_JOURNAL_DIR {self.folder}: all {MAX_SLOTS} journal slots are in use")

    def _try_lock(self, slot: int) -> BinaryIO | None:
        handle = (self.folder / f"journal-{slot}.lock").open("a+b")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return None
        return handle

    def _segments_of(self, slot: int) -> list[Path]:
        found = [(int(m[2]), p) for p in self.folder.iterdir() if (m := _SEGMENT.match(p.name)) and int(m[1]) == slot]
        return [path for _, path in sorted(found)]

    def _take_leftovers(self) -> None:
        assert self.slot is not None
        own = self._segments_of(self.slot)
        self._next_seq = 1 + max((int(_SEGMENT.match(p.name)[2]) for p in own), default=0)  # type: ignore[index]
        for path in own:
            self._queue_for_replay(path)
        other_slots = {int(m[1]) for p in self.folder.iterdir() if (m := _SEGMENT.match(p.name))} - {self.slot}
        for slot in sorted(other_slots):
            lock = self._try_lock(slot)
            if lock is None:
                continue  # a live process owns it
            try:
                taken = 0
                for path in self._segments_of(slot):  # listed under its lock: nobody else moves them now
                    mine = self._segment_path()
                    with contextlib.suppress(FileNotFoundError):
                        path.rename(mine)
                        self._queue_for_replay(mine)
                        taken += 1
                if taken:
                    log.info("audit_journal_taken_over", from_slot=slot, slot=self.slot, files=taken)
            finally:
                lock.close()

    def _queue_for_replay(self, path: Path) -> None:
        size = path.stat().st_size
        if size == 0:
            path.unlink(missing_ok=True)
            return
        self._replay.append(Segment(path, size))
        self._bytes += size

    def _segment_path(self) -> Path:
        path = self.folder / f"journal-{self.slot}-{self._next_seq:06d}.jsonl"
        self._next_seq += 1
        return path

    def _new_segment(self) -> Segment:
        path = self._segment_path()
        return Segment(path, handle=path.open("ab"))

    def _delete(self, segment: Segment) -> None:
        segment.path.unlink(missing_ok=True)
        self._freed(segment)

    def _freed(self, segment: Segment) -> None:
        self._bytes -= segment.size
        segment.size = 0
        if self._full and self._bytes < self.max_bytes:
            self._full = False
            log.info("audit_journal_has_room", folder=str(self.folder), bytes=self._bytes)


def _fsync_file_and_folder(fd: int, folder: Path) -> None:
    os.fsync(fd)
    folder_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(folder_fd)
    finally:
        os.close(folder_fd)


def _read_rows(reader: BinaryIO, size: int, path: Path) -> list[Row]:
    rows: list[Row] = []
    while len(rows) < size:
        line = reader.readline()
        if not line:
            break
        if not line.strip():
            continue
        try:
            rows.append(row_from_json(line))
        except ValueError as exc:
            # A line torn by a crash mid-write: the rest of the file is still good.
            log.warning("audit_journal_line_skipped", path=str(path), error=str(exc))
    return rows
