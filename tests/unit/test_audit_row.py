"""The audit row as a value: exactly the contract's fields, no prompt text, a JSON line and back."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from api.audit.row import audit_row, is_audited, row_from_json, row_to_json
from api.request_record import RequestRecord

CONTRACT_FIELDS = [
    "request_id",
    "created_at",
    "route_path",
    "route_reason",
    "model",
    "stream",
    "status",
    "http_status",
    "error_type",
    "latency_ms",
    "ttft_ms",
    "upstream_ms",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_steps",
    "tool_calls",
    "prompt_sha256",
    "prompt_chars",
    "message_count",
    "client_id",
    "session_id",
    "trace_id",
    "requested_model",  # not in contract section 7's list: added for model-name routing (issue 9)
    "client_request_id",  # wave 2 (contract section 3): the caller's own id; request_id is ours
    "client",  # wave 2 (contract section 10): the client's name
    "cost_usd",  # wave 2 (contract section 10): USD over all the request's upstream calls
    "upstream_model",  # wave 2 (contract section 11): what LiteLLM did
    "attempted_retries",
    "attempted_fallbacks",
    "cache_hit",
    "route_policy",  # issue 18: the routing policy rule that chose the model or refused
    "orchestration_tasks",  # wave 2 (contract section 12): the tasks of the orchestration's plan
]
SECRET = "my card number is 4111 1111 1111 1111"


def chat_record() -> RequestRecord:
    record = RequestRecord(request_id="req-1", method="POST", path="/v1/chat/completions", session_id="s-1")
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": SECRET}]
    record.note_prompt("gpt-4o", True, messages)
    record.route_path, record.route_reason = "passthrough", "default"
    record.add_usage({"prompt_tokens": 9, "completion_tokens": 4})
    record.http_status, record.latency_ms, record.ttft_ms = 200, 30.5, 12.0
    return record


def test_the_row_has_exactly_the_contract_fields_in_its_order():
    assert list(audit_row(chat_record())) == CONTRACT_FIELDS


def test_the_row_holds_the_prompt_hash_and_size_never_the_text():
    row = audit_row(chat_record())
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": SECRET}]
    canonical = json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert row["prompt_sha256"] == hashlib.sha256(canonical).hexdigest()
    assert (row["prompt_chars"], row["message_count"]) == (len("be brief") + len(SECRET), 2)
    assert SECRET not in str(row)
    assert SECRET.encode() not in row_to_json(row)
    assert (row["prompt_tokens"], row["completion_tokens"], row["stream"], row["model"]) == (9, 4, True, "gpt-4o")


@pytest.mark.parametrize(
    ("method", "path", "audited"),
    [
        ("POST", "/v1/chat/completions", True),
        ("GET", "/v1/chat/completions", False),
        ("GET", "/v1/models", False),
        ("GET", "/v1/audit", False),
        ("GET", "/health", False),
    ],
)
def test_only_chat_completions_are_audited(method, path, audited):
    assert is_audited(RequestRecord(request_id="r", method=method, path=path)) is audited


def test_a_row_survives_the_spill_file():
    row = audit_row(chat_record())
    back = row_from_json(row_to_json(row))
    assert back == row
    assert back["created_at"].tzinfo is not None


def test_the_row_keeps_the_callers_own_id_beside_ours():
    record = chat_record()
    record.client_request_id = "client-7"
    row = audit_row(record)
    assert (row["request_id"], row["client_request_id"]) == ("req-1", "client-7")


def test_a_spill_line_written_before_client_request_id_reads_back_with_none():
    line = row_to_json({k: v for k, v in audit_row(chat_record()).items() if k != "client_request_id"})
    assert row_from_json(line)["client_request_id"] is None


def test_the_timestamp_keeps_its_instant():
    row = audit_row(chat_record())
    row["created_at"] = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    assert row_from_json(row_to_json(row))["created_at"] == row["created_at"]


@pytest.mark.parametrize(
    "line",
    [b'{"request_id": "torn', b"[1, 2]", b'{"status": "ok"}', b'{"request_id": "r", "created_at": 5}', b"\xff"],
)
def test_lines_that_are_not_rows_are_refused(line):
    with pytest.raises(ValueError, match="not"):
        row_from_json(line)
