"""One structured access line per finished request (never the prompt or the token)."""

from __future__ import annotations

import structlog

from api.request_record import RequestRecord

log = structlog.get_logger("api.access")


class AccessLog:
    def request_finished(self, record: RequestRecord) -> None:
        log.info(
            "request",
            request_id=record.request_id,
            client_request_id=record.client_request_id,
            trace_id=record.trace_id,
            method=record.method,
            path=record.path,
            status=record.http_status,
            outcome=record.status,
            latency_ms=round(record.latency_ms or 0.0, 2),
            route=record.route_path,
            reason=record.route_reason,
            model=record.model,
            stream=record.stream,
            error_type=record.error_type,
            error_code=record.error_code,
            client=record.client,
            client_id=record.client_id,
            session_id=record.session_id,
        )
