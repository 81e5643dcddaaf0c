"""Span export in a child process: the OTLP encoding and the HTTP post leave the gateway.

The stock OTLP exporter builds one protobuf object per attribute in Python, on the
BatchSpanProcessor's thread but holding the GIL: about 55 µs per span, three spans per
passthrough request, which the event loop waits out (the profile in docs/benchmarks.md).
Here the batch thread only flattens each finished span into a tuple of plain values and
pickles the batch (about 9 µs per span) down a pipe; a child process (`python -m
api.observability.export_process`, started with the tracer) rebuilds the spans and runs
the same `OTLPSpanExporter`, so what reaches the collector is byte for byte what the
in-process exporter sends (tests/unit/test_export_process.py compares the two).

The child answers each batch with one byte, so an export still reports the collector's
real outcome (readiness `degraded` keeps working). A child that died is started again on
the next batch; one that does not answer in time is killed (that batch is lost, as with a
dead collector). The child ignores SIGINT and SIGTERM and ends when its stdin closes:
the gateway's shutdown flushes the last batch through it first, and a killed gateway
takes the child with it (end of file on stdin).

Frames on the pipe: a 4-byte big-endian length, then a pickle. The first frame is the
child's configuration; each later one a list of span records.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util import BoundedList
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState
from opentelemetry.util.types import Attributes

from api.observability.logging import configure_logging
from api.observability.otlp import EXPORT_TIMEOUT_SECONDS, otlp_exporter

log = logging.getLogger("api.tracing")

_LENGTH = struct.Struct(">I")
_OK, _FAILED = b"\x01", b"\x00"
#: On top of the exporter's own timeout: a child that has not answered by then is stuck.
REPLY_GRACE_SECONDS = 2.0
REPLY_TIMEOUT_SECONDS = EXPORT_TIMEOUT_SECONDS + REPLY_GRACE_SECONDS
#: How long a closing child gets to send its last batch before it is killed.
CLOSE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ChildConfig:
    """What the child needs to build the exporter (sent down the pipe, so the API key is
    never on a command line)."""

    endpoint: str
    api_key: str | None
    resource_attributes: dict[str, Any]
    resource_schema_url: str | None = None
    log_level: str = "WARNING"
    log_format: str = "json"


# ---- spans as plain values (pure: the two halves of the trip) -------------------------


def _context_record(ctx: SpanContext) -> tuple[int, int, bool, int, tuple[tuple[str, str], ...]]:
    return ctx.trace_id, ctx.span_id, ctx.is_remote, int(ctx.trace_flags), tuple(ctx.trace_state.items())


def _context(record: tuple[int, int, bool, int, tuple[tuple[str, str], ...]]) -> SpanContext:
    trace_id, span_id, is_remote, flags, state = record
    return SpanContext(trace_id, span_id, is_remote, TraceFlags(flags), TraceState(list(state)))


def span_record(span: ReadableSpan) -> tuple[Any, ...]:
    """A finished span as a tuple of ints, strings, dicts and tuples: cheap to pickle."""
    scope = span.instrumentation_scope
    status = span.status
    return (
        span.name,
        _context_record(span.get_span_context()),
        _context_record(span.parent) if span.parent is not None else None,
        span.kind.value,
        span.start_time,
        span.end_time,
        dict(span.attributes),
        span.dropped_attributes,
        [(e.name, e.timestamp, dict(e.attributes or {}), e.dropped_attributes) for e in span.events],
        span.dropped_events,
        [(_context_record(link.context), dict(link.attributes or {}), link.dropped_attributes) for link in span.links],
        span.dropped_links,
        status.status_code.value,
        status.description,
        (scope.name, scope.version, scope.schema_url, dict(scope.attributes or {})) if scope is not None else None,
    )


def _bounded(attributes: dict[str, Any], dropped: int) -> BoundedAttributes:
    bounded = BoundedAttributes(maxlen=None, attributes=attributes, immutable=False)
    bounded.dropped = dropped
    return bounded


def _bounded_list(items: list[Any], dropped: int) -> BoundedList:
    bounded = BoundedList.from_seq(None, items)
    bounded.dropped = dropped
    return bounded


def readable_span(record: Sequence[Any], resource: Resource) -> ReadableSpan:
    """The `ReadableSpan` a `span_record` was made from, as the OTLP encoder reads it."""
    (
        name,
        context,
        parent,
        kind,
        start_time,
        end_time,
        attributes,
        dropped_attributes,
        events,
        dropped_events,
        links,
        dropped_links,
        status_code,
        status_description,
        scope,
    ) = record
    return ReadableSpan(
        name=name,
        context=_context(context),
        parent=_context(parent) if parent is not None else None,
        resource=resource,
        attributes=_bounded(attributes, dropped_attributes),
        events=_bounded_list(
            [_event(event_name, event_attrs, ts, dropped) for event_name, ts, event_attrs, dropped in events],
            dropped_events,
        ),
        links=_bounded_list(
            [Link(_context(ctx), _bounded(link_attrs, dropped)) for ctx, link_attrs, dropped in links], dropped_links
        ),
        kind=SpanKind(kind),
        status=Status(StatusCode(status_code), status_description),
        start_time=start_time,
        end_time=end_time,
        instrumentation_scope=InstrumentationScope(*scope) if scope is not None else None,
    )


def _event(name: str, attributes: Attributes, timestamp: int, dropped: int) -> Event:
    return Event(name, _bounded(dict(attributes or {}), dropped), timestamp)


# ---- the pipe ---------------------------------------------------------------------


def write_frame(stream: IO[bytes], value: object) -> None:
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(payload)) + payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any | None:
    """The next frame's value, or None at end of file."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    payload = stream.read(_LENGTH.unpack(head)[0])
    return pickle.loads(payload)


# ---- the gateway's side -----------------------------------------------------------------


class ProcessSpanExporter(SpanExporter):
    """A `SpanExporter` whose batches are encoded and sent by a child process."""

    def __init__(self, config: ChildConfig, reply_timeout: float = REPLY_TIMEOUT_SECONDS) -> None:
        self.config = config
        self.reply_timeout = reply_timeout
        self._child: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()  # the batch thread exports; shutdown comes from another
        self._closed = False
        self.starts = 0

    @property
    def child_pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        """Start the child now (the first export would otherwise), so its imports are done
        before the first batch."""
        with self._lock:
            self._running_child()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            if self._closed:
                return SpanExportResult.FAILURE
            try:
                requests, replies = _pipes(self._running_child())
                write_frame(requests, [span_record(span) for span in spans])
                reply = _read_reply(replies, self.reply_timeout)
            except (OSError, TimeoutError, EOFError) as exc:
                log.warning("span export process failed (%s: %s); it is started again", type(exc).__name__, exc)
                self._stop_child(kill=True)
                return SpanExportResult.FAILURE
            return SpanExportResult.SUCCESS if reply == _OK else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True  # every export waits for the child's answer: nothing is held here

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_child(kill=False)

    def _running_child(self) -> subprocess.Popen[bytes]:
        if self._child is not None and self._child.poll() is None:
            return self._child
        if self._child is not None:
            log.warning("span export process exited (code %s); starting it again", self._child.returncode)
            self._stop_child(kill=True)
        child = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self._child = child
        self.starts += 1
        write_frame(_pipes(child)[0], asdict(self.config))  # plain values: the child runs this module as __main__
        return child

    def _stop_child(self, *, kill: bool) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        requests, replies = _pipes(child)
        if kill:
            child.kill()
        with contextlib.suppress(OSError):
            requests.close()  # end of file: the child sends what it has and exits
        try:
            child.wait(CLOSE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        replies.close()


def _pipes(child: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """The child's stdin (batches go down it) and stdout (answers come up)."""
    if child.stdin is None or child.stdout is None:
        raise OSError("the span export process has no pipes")
    return child.stdin, child.stdout


def _read_reply(stream: IO[bytes], timeout: float) -> bytes:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no answer within {timeout:g} s")
    reply = os.read(stream.fileno(), 1)
    if not reply:
        raise EOFError("the span export process closed its output")
    return reply


# ---- the child ----------------------------------------------------------------------


def main() -> int:
    """The child: read the configuration, then export each batch and answer one byte."""
    # The parent ends us by closing our stdin, after its last batch: a Ctrl-C or SIGTERM
    # meant for the gateway's process group must not cut that batch off.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb", buffering=0)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the replies
    requests = sys.stdin.buffer
    settings = read_frame(requests)
    if settings is None:
        return 0
    config = ChildConfig(**settings)
    # The gateway's own log lines (JSON, secrets redacted), on stderr: stdout is the replies'.
    configure_logging(config.log_level, config.log_format)
    exporter = otlp_exporter(config.endpoint, config.api_key)
    resource = Resource(config.resource_attributes, config.resource_schema_url)
    while (records := read_frame(requests)) is not None:
        try:
            result = exporter.export([readable_span(record, resource) for record in records])
        except Exception:
            log.exception("a span batch could not be exported")
            result = SpanExportResult.FAILURE
        replies.write(_OK if result is SpanExportResult.SUCCESS else _FAILED)
    exporter.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
