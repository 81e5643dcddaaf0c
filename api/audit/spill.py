"""The spill file: rows the writer's queue could not hold, kept on disk until the store takes them.

An append-only JSON-lines file. Appends happen on the request's task (a buffered write
to the page cache, no fsync: it survives a crash of the process, which is what it is
for). A replay first renames the file to `<name>.replaying`, so new spills start a fresh
file while the old one is read in batches; the renamed file is deleted only after its
last batch was stored. A replay cut short (a crash, the store failing again) simply
starts that file again: inserts are idempotent by request_id, so nothing is duplicated.

One process owns a spill file (an exclusive lock on `<name>.lock`): two gateways sharing
one would rename it under each other's feet, so the second one refuses to start.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import structlog

from api.audit.row import Row, row_from_json, row_to_json

log = structlog.get_logger(__name__)


class SpillFileError(RuntimeError):
    """The spill file cannot be this process's own (another live gateway has it, or the folder is unusable)."""


class SpillFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.replay_path = path.with_name(path.name + ".replaying")
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock: BinaryIO | None = None
        self._appender: BinaryIO | None = None
        self._reader: BinaryIO | None = None
        self._has_new_rows = False
        self._replay_left = False

    @property
    def pending(self) -> bool:
        """Rows are waiting on disk (a replay has something to do)."""
        return self._has_new_rows or self._replay_left or self._reader is not None

    def open(self) -> None:
        """Take the file for this process and note any rows a previous run left behind."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = self._lock_path.open("ab")
        except OSError as exc:
            raise SpillFileError(f"AUDIT_SPILL_PATH {self.path} cannot be used: {exc}") from None
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise SpillFileError(
                f"AUDIT_SPILL_PATH {self.path} is in use by another gateway process: give each process its own."
            ) from None
        self._replay_left = self.replay_path.exists()
        self._has_new_rows = self.path.exists() and self.path.stat().st_size > 0
        if self._has_new_rows:
            self._end_with_newline()

    def append(self, rows: Iterable[Row]) -> None:
        """Add rows at the end of the file (synchronous, small: it runs on the request's task)."""
        if self._appender is None:
            self._appender = self.path.open("ab")
        self._appender.write(b"".join(row_to_json(row) + b"\n" for row in rows))
        self._appender.flush()
        self._has_new_rows = True

    async def read_batch(self, size: int) -> list[Row]:
        """The next rows to replay (at most `size`); [] once every spilled row has been handed out.

        Call it again only after the previous batch is stored: reaching the end of the
        file is what deletes it.
        """
        while True:
            if self._reader is None and not self._start_reading():
                return []
            rows = await asyncio.to_thread(self._read_rows, size)
            if rows:
                return rows
            self._finish_reading()

    def close(self) -> None:
        """Make the appended rows durable and let the file go (at shutdown)."""
        if self._appender is not None:
            os.fsync(self._appender.fileno())
            self._appender.close()
        if self._reader is not None:
            self._reader.close()  # a replay cut short: the .replaying file is read again next time
        self._appender = self._reader = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None

    def _start_reading(self) -> bool:
        if not self._replay_left:
            if not self._has_new_rows:
                return False
            if self._appender is not None:
                self._appender.close()
                self._appender = None
            self.path.rename(self.replay_path)
            self._has_new_rows = False
        self._reader = self.replay_path.open("rb")
        self._replay_left = False
        return True

    def _finish_reading(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.replay_path.unlink(missing_ok=True)

    def _read_rows(self, size: int) -> list[Row]:
        assert self._reader is not None
        rows: list[Row] = []
        while len(rows) < size:
            line = self._reader.readline()
            if not line:
                break
            if not line.strip():
                continue
            try:
                rows.append(row_from_json(line))
            except ValueError as exc:
                # A line torn by a crash mid-write: the rest of the file is still good.
                log.warning("audit_spill_line_skipped", path=str(self.replay_path), error=str(exc))
        return rows

    def _end_with_newline(self) -> None:
        with self.path.open("rb+") as handle:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
