"""structlog set-up: JSON lines (or console in dev), secrets redacted by a processor.

The gateway's own lines (structlog) go straight from the processors to stdout: no stdlib
`LogRecord`, handler or formatter on the way, and orjson renders them. That path runs
once per request (the access line), and through the stdlib it cost about three times as
much. Other libraries' stdlib records (uvicorn, alembic, openai) are rendered by the same
processors through a stdlib formatter, so every line has the same shape.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
from typing import Any

import orjson
import structlog

_SECRET_KEYS = re.compile(r"(authorization|api[_-]?key|token|secret|password|master[_-]?key)", re.I)
# One pass per string: a bearer credential (group 1) or an `sk-...` key.
_SECRET_TEXT = re.compile(r"(?i)(bearer\s+[A-Za-z0-9._~+/=-]+)|\bsk-[A-Za-z0-9_-]{6,}")
REDACTED = "[redacted]"


def _mask(match: re.Match[str]) -> str:
    return "Bearer " + REDACTED if match.group(1) else REDACTED


@functools.lru_cache(maxsize=1024)
def _is_secret_key(key: str) -> bool:
    # Log lines reuse a small set of field names: remember the verdict per name.
    return bool(_SECRET_KEYS.search(key))


def redact_value(value: Any) -> Any:
    """Mask bearer tokens and `sk-...` keys inside strings (and nested containers)."""
    if isinstance(value, str):
        return _SECRET_TEXT.sub(_mask, value)
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret-named fields are masked, secret-looking strings too."""
    return {
        key: REDACTED if key != "event" and _is_secret_key(key) else redact_value(value)
        for key, value in event_dict.items()
    }


def render_json(event_dict: dict[str, Any], default: Any = None, **_: Any) -> str:
    """One JSON line with orjson; if orjson cannot (an int past 64 bits, an odd key), the
    stdlib's json, which drops keys JSON cannot have rather than lose the line."""
    try:
        return orjson.dumps(event_dict, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(event_dict, default=repr, skipkeys=True)


class StdoutLine:
    """structlog's last step: the rendered line to stdout, flushed at once.

    `sys.stdout` is looked up per line, not kept from start-up, so a swapped stdout (a
    test's capture, an embedding program) still gets the lines. `name` is the name given
    to `structlog.get_logger(name)`, which `add_logger_name` reads.
    """

    __slots__ = ("name",)

    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def msg(self, message: str) -> None:
        stream = sys.stdout
        stream.write(message + "\n")
        stream.flush()

    debug = info = warning = warn = error = err = critical = exception = fatal = log = msg


def _stdout_line(*args: Any) -> StdoutLine:
    return StdoutLine(args[0] if args else None)


def configure_logging(level: str, fmt: str) -> None:
    """Route structlog and stdlib logging (uvicorn, openai) through one renderer."""
    renderer: Any = (
        structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer(render_json)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    finish: list[Any] = [structlog.processors.format_exc_info, redact_secrets, renderer]
    structlog.configure(
        processors=[*shared, *finish],
        logger_factory=_stdout_line,
        # Calls below `level` return at once, before any processor runs. The level is fixed
        # here: a logger is cached on first use, so configure once per process.
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *finish],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # uvicorn's own access log would duplicate ours (which carries request id and route).
    logging.getLogger("uvicorn.access").disabled = True
    # The HTTP clients log every request at INFO: per-request noise on the hot path.
    for name in ("httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
