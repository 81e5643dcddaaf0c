"""structlog set-up: JSON lines (or console in dev), secrets redacted by a processor."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_KEYS = re.compile(r"(authorization|api[_-]?key|token|secret|password|master[_-]?key)", re.I)
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{6,}")
REDACTED = "[redacted]"


def redact_value(value: Any) -> Any:
    """Mask bearer tokens and `sk-...` keys inside strings (and nested containers)."""
    if isinstance(value, str):
        return _SK_KEY.sub(REDACTED, _BEARER.sub("Bearer " + REDACTED, value))
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEYS.search(str(k)) else redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret-named fields are masked, secret-looking strings too."""
    return {
        key: REDACTED if _SECRET_KEYS.search(key) and key != "event" else redact_value(value)
        for key, value in event_dict.items()
    }


def configure_logging(level: str, fmt: str) -> None:
    """Route structlog and stdlib logging (uvicorn, openai) through one renderer."""
    renderer: Any = structlog.dev.ConsoleRenderer() if fmt == "console" else structlog.processors.JSONRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
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
