"""The listing cursor: opaque, round-trips, and a bad one is a 400 naming `cursor`."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.audit.query import Cursor, decode_cursor, encode_cursor
from api.errors import InvalidRequestError


def test_a_cursor_round_trips():
    cursor = Cursor(datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), 12345)
    token = encode_cursor(cursor)
    assert token.isascii()
    assert "=" not in token  # safe in a query string as it is
    assert decode_cursor(token) == cursor


def test_a_cursor_keeps_the_instant_of_any_offset():
    moment = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5)))
    assert decode_cursor(encode_cursor(Cursor(moment, 1))).created_at == moment


@pytest.mark.parametrize(
    "token",
    [
        "not-base64!",
        base64.urlsafe_b64encode(b"not json").decode(),
        base64.urlsafe_b64encode(b'["2030-01-01T00:00:00+00:00"]').decode(),
        base64.urlsafe_b64encode(b'["yesterday", 3]').decode(),
        base64.urlsafe_b64encode(b'["2030-01-01T00:00:00", 3]').decode(),  # no offset
        base64.urlsafe_b64encode(b'["2030-01-01T00:00:00+00:00", "x"]').decode(),
    ],
)
def test_a_bad_cursor_is_a_400_naming_the_parameter(token):
    with pytest.raises(InvalidRequestError) as caught:
        decode_cursor(token)
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, "cursor", "invalid_value")
