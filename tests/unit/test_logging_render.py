"""The pieces of a log line: secret redaction, the JSON renderer and the stdout writer."""

from __future__ import annotations

import io
import json

import pytest

from api.observability.logging import REDACTED, StdoutLine, redact_secrets, render_json


def test_secret_named_fields_are_masked_whatever_their_value():
    line = redact_secrets(None, "info", {"event": "token", "api_key": "abc", "X-Auth-Token": 1, "status": 200})
    assert line == {"event": "token", "api_key": REDACTED, "X-Auth-Token": REDACTED, "status": 200}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("header Bearer abc.DEF-123_x~+/= sent", f"header Bearer {REDACTED} sent"),
        ("lower bearer abc", f"lower Bearer {REDACTED}"),
        ("key sk-live_0123456789 used", f"key {REDACTED} used"),
        ("two: Bearer a1 and sk-abcdefgh", f"two: Bearer {REDACTED} and {REDACTED}"),
        ("no secret here: task-sk-12 sk-123", "no secret here: task-sk-12 sk-123"),
    ],
)
def test_secret_looking_text_is_masked_inside_strings(text, expected):
    assert redact_secrets(None, "info", {"event": "e", "detail": text})["detail"] == expected


def test_nested_values_are_masked_too():
    line = redact_secrets(
        None, "info", {"event": "e", "request": {"headers": {"Authorization": "x"}, "l": ["sk-1234567"]}}
    )
    assert line["request"] == {"headers": {"Authorization": REDACTED}, "l": [REDACTED]}


def test_render_json_writes_compact_json_and_never_loses_a_line():
    assert render_json({"event": "e", "n": 1}) == '{"event":"e","n":1}'
    # What orjson refuses still gives a JSON line: a big int as it is, an odd key dropped.
    assert json.loads(render_json({"event": "e", "n": 2**70})) == {"event": "e", "n": 2**70}
    assert json.loads(render_json({"event": "e", (1, 2): "x"})) == {"event": "e"}


def test_stdout_line_follows_a_swapped_stdout(monkeypatch):
    logger = StdoutLine("api.test")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", first)
    logger.info("one")
    monkeypatch.setattr("sys.stdout", second)
    logger.error("two")
    assert (first.getvalue(), second.getvalue(), logger.name) == ("one\n", "two\n", "api.test")
